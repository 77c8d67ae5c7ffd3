"""Modal's cloud, as the Modal sandbox agent and the modal harness reach it."""

from __future__ import annotations

from cookbook.seams import HarnessError

APP_NAME = "prompt-learning-cookbook"


class ModalUnavailable(HarnessError):
    """Modal cannot be used (package, credentials, gateway URL); the message says what to do."""


def modal_app():
    """The Modal app the sandboxes belong to (the first call to Modal's API)."""
    try:
        import modal
    except ImportError as e:
        raise ModalUnavailable("The Modal backend needs the `modal` package: pip install modal") from e
    try:
        return modal.App.lookup(APP_NAME, create_if_missing=True)
    except modal.exception.AuthError as e:
        raise ModalUnavailable(
            f"Modal credentials are missing or invalid ({e}). Run `modal token new`, or set MODAL_TOKEN_ID "
            "and MODAL_TOKEN_SECRET."
        ) from e


def sandbox_from_image(app, image: str, timeout: int, cpu: float = 2.0, memory_mb: int = 4096):
    """A Modal sandbox made from a registry image (an instance image: /testbed and its environment)."""
    import modal

    return modal.Sandbox.create(
        app=app, image=modal.Image.from_registry(image), workdir="/testbed", timeout=timeout, cpu=cpu, memory=memory_mb
    )


def write_file(sandbox, path: str, text: str) -> None:
    with sandbox.open(path, "w") as handle:
        handle.write(text)


def run_script(sandbox, script: str, timeout: int | None = None) -> tuple[str, int | None]:
    """Run a bash script in the sandbox (stderr joined to stdout); return (output, exit code)."""
    process = sandbox.exec("bash", "-c", f"{script} 2>&1", timeout=timeout)
    output = process.stdout.read()
    return output, process.wait()
