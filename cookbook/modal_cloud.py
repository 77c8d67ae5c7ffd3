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
