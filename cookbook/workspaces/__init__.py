"""Workspaces: an instance's repository checked out at its base commit, and the Python it runs in.

- `checkout.py`: a throwaway checkout of the repository at `base_commit` (from its mirror), its diff (the
  agent's patch), and the sweep of checkouts a killed process left behind.
- `virtualenv.py`: one virtualenv per repository and version for repositories that install with pip.

Used by the testbeds (where the agent works), the local harness (where the tests run), the instance images
(the repository copied into an image) and `agent_run.py` (the patch): so they sit below all of them, in a
folder of their own (they were `testbeds/checkout.py` and `testbeds/virtualenv.py`, which made the images
and the testbeds import each other).
"""
