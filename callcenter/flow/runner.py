"""The flow runner: a pure state machine over a validated Flow.

`FlowRunner.step(state, event) -> (new_state, actions)`. No IO, no clock, no randomness:
the same state and event always give the same result, the state is JSON (the checkpoint),
and every move (node entered, slot set, branch taken, handler fired) is also returned as a
RecordEvent for the call timeline.
"""

from __future__ import annotations

from callcenter.flow.actions import Action, AgentMessage
from callcenter.flow.events import Event
from callcenter.flow.schema import Flow
from callcenter.flow.state import RunnerState
from callcenter.flow.turns import Step
from callcenter.flow.walk import CompiledFlow


class FlowRunner:
    """Walks one validated flow. Stateless itself: all call state is in RunnerState."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.compiled = CompiledFlow(flow)

    def new_state(self) -> RunnerState:
        """The state of a call that has not started yet."""
        return RunnerState(flow_name=self.flow.name, variables=dict(self.flow.variables))

    def step(self, state: RunnerState, event: Event) -> tuple[RunnerState, list[Action]]:
        """Apply one event; returns the new state and the actions to perform, in order."""
        new = state.fork()
        step = Step(self.compiled, new)
        step.handle(event)
        return new, step.actions

    def heard(self, state: RunnerState, planned: str, heard: str) -> RunnerState:
        """The caller heard only `heard` of the agent's `planned` reply (a barge-in).

        The conversation the LLM sees must hold what the caller actually heard, or the
        model believes it said things the caller never got. The newest assistant message
        with the planned text is cut to the heard words; one the caller heard nothing of
        is dropped (unless it carries tool calls, which the history needs).
        """
        planned, heard = planned.strip(), heard.strip()
        if planned == heard and planned:
            return state
        for i in range(len(state.history) - 1, -1, -1):
            msg = state.history[i]
            if msg.role != "assistant" or msg.content.strip() != planned or msg.interrupted:
                continue
            new = state.fork()
            if heard or msg.tool_calls:
                new.history[i] = AgentMessage(role="assistant", content=heard,
                                              tool_calls=msg.tool_calls, interrupted=True)
            else:
                del new.history[i]
            return new
        return state

    def coach(self, state: RunnerState, text: str, by: str) -> RunnerState:
        """A supervisor's guidance for the agent: into the conversation, never to the caller."""
        return self.note(
            state, f"Guidance from supervisor {by} (the caller does not hear this): {text}")

    def note(self, state: RunnerState, text: str) -> RunnerState:
        """Context for the agent from outside the conversation (a system message)."""
        new = state.fork()
        new.history.append(AgentMessage(role="system", content=text))
        return new

    def has_node(self, name: str) -> bool:
        """True if the flow has a node called `name` (hand-back targets are checked)."""
        return name in self.flow.nodes
