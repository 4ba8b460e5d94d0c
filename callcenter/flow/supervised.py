"""The supervised part of a runner step: a person has the call, then hands it back.

Reached from a connected escalation (an escalate node's queue result) or a supervisor's
take-over of a call the AI had alone; both end the same way, in a hand-back that asks
only what is still unanswered, or an end.
"""

from __future__ import annotations

from callcenter.flow.events import EscalationResult, TakenOver, WebhookResult
from callcenter.flow.nodes import EscalateNode, WebhookNode
from callcenter.flow.walk import StepBase


class SupervisedSteps(StepBase):
    """Queue results, take-overs and hand-backs (mixed into the runner's `Step`)."""

    def escalation_result(self, node: EscalateNode, event: EscalationResult) -> None:
        self.record("escalation", node=self.st.node, outcome=event.outcome,
                    supervisor=event.supervisor)
        if event.outcome == "connected":
            self.st.status = "escalated"
            self.st.waiting_for = "escalation"
            self.st.was_escalated = True
        elif event.outcome == "ended":
            self.end("escalated", "supervisor ended the call")
        elif event.outcome == "handed_back":
            self.st.status = "waiting"
            self.st.skip_answered = True  # the caller must not be asked again what they said
            if event.resume_at and event.resume_at in self.flow.nodes:
                self.goto(event.resume_at)
            elif node.next:
                self.goto(node.next)
            else:
                self.hang_up("escalated", "handed_back", "Thanks for calling. Goodbye.")
        elif event.outcome == "unavailable" and node.on_no_supervisors:
            self.goto(node.on_no_supervisors)
        elif node.on_timeout:
            self.goto(node.on_timeout)
        else:
            self.hang_up("completed", f"escalation_{event.outcome}",
                         "Sorry, no one is available right now. Please call again later.")

    def take_over(self, event: TakenOver) -> None:
        """A supervisor barges into a call the AI has alone, at whatever node it is.

        The call is then supervised exactly as after a connected escalation. What the AI
        was waiting for is dropped (a question half asked, a classification, an LLM turn,
        a webhook: a late result is ignored, as the call no longer waits for it); slots
        and the conversation stay. `taken_over_at` is where a hand-back resumes.
        """
        if self.st.status == "escalated" or self.st.waiting_for == "escalation":
            self.record("ignored", kind=event.kind, node=self.st.node,
                        why="a supervisor has the call or it waits in a queue")
            return
        self.record("taken_over", node=self.st.node, supervisor=event.supervisor,
                    was_waiting_for=self.st.waiting_for)
        self.st.taken_over_at = self.st.node
        self.st.stored_webhook = None
        self.st.status, self.st.waiting_for = "escalated", "escalation"
        self.st.was_escalated = True
        self.st.pending_text, self.st.pending_tools = None, []
        self.st.skip_answered = False
        self.st.no_input_streak = self.st.no_match_streak = 0

    def taken_over_result(self, event: EscalationResult) -> None:
        """Hand-back or end of a take-over: the AI resumes where it was (or where the
        supervisor says), asking only what is still unanswered."""
        at = self.st.taken_over_at
        assert at is not None
        self.record("escalation", node=at, outcome=event.outcome, supervisor=event.supervisor,
                    taken_over=True)
        stored, self.st.stored_webhook = self.st.stored_webhook, None
        if event.outcome == "ended":
            self.st.taken_over_at = None
            self.end("escalated", "supervisor ended the call")
        elif event.outcome == "handed_back":
            self.st.taken_over_at = None
            self.st.status = "waiting"
            self.st.skip_answered = True
            target = (event.resume_at if event.resume_at and event.resume_at in self.flow.nodes
                      else at)
            node = self.flow.node(target)
            if target == at and isinstance(node, WebhookNode) and stored is not None and (
                    stored == self.st.request_id):
                # Its reply came while the supervisor talked: calling it again could repeat
                # what it does (a refund, a ticket), so the flow goes on from its answer.
                self.record("webhook_already_done", node=at, request_id=stored)
                target = node.next
            self.goto(target)
        else:
            self.record("ignored", kind=event.kind, outcome=event.outcome,
                        why="no queue result applies to a taken-over call")

    def taken_over_webhook(self, event: WebhookResult) -> None:
        """The reply of a webhook that was in flight when the supervisor took over.

        The request already went out; its reply is kept (the node's `save` variables) so
        the hand-back goes on from it instead of sending the request a second time. A failed
        reply keeps nothing: the hand-back calls the webhook again, as its retry would.
        """
        node = self.flow.node(self.st.node or "")
        if (not isinstance(node, WebhookNode) or self.st.node != self.st.taken_over_at
                or event.request_id != self.st.request_id):
            self.record("ignored", kind=event.kind, node=self.st.node,
                        why="a supervisor has the call", id=event.request_id)
            return
        self.record("webhook_result", node=self.st.node, ok=event.ok, status=event.status,
                    error=event.error, taken_over=True)
        if event.ok:
            self.save_webhook(node, event)
            self.st.stored_webhook = event.request_id
