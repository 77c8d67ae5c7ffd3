"""Scripted models: the project's only test double, and the offline demo's models.

- `server.py`: a scripted model server on 127.0.0.1 that answers as OpenAI's and Anthropic's APIs do, and is
  as strict as they are; a *script* (a function of the request) chooses each reply. The tests and the
  benchmarks use it in place of a real provider.
- `wire.py`: its replies on the wire, in each API's shape (error bodies, usage, streamed events).
- `demo.py`: the offline demo's script: one server playing the agent's model, the judge and the optimizer,
  so the whole learning path runs with no key (`cookbook.loop.endpoints` starts it when no provider
  variable is set).

They were `llm/scripted_server.py`, `llm/scripted_wire.py` and `llm/offline_demo.py`, beside the real client;
this folder imports only `cookbook.llm` (the models' limits, token counts, the loopback HTTP service) below
it, and nothing of the loop above it.
"""
