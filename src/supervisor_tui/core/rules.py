"""Rules are data: thresholds with hysteresis that raise and auto-resolve escalations.

``RuleEngine.evaluate(state, now)`` looks at the floor and returns the escalation events
that should happen now. It is deterministic given the state, ``now`` and what it has seen
since it started, so a restarted collector picks up where the store says things stand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supervisor_tui import i18n
from supervisor_tui.core import fmt
from supervisor_tui.core.kpis import QueueKpis, queue_kpis
from supervisor_tui.core.projection import Escalation, FloorState
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import (
    EscalationRaised,
    EscalationResolved,
    NewEvent,
    Priority,
    Severity,
    SlaState,
)

RULES_SOURCE = "rules"


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    realert_after_s: float = Field(default=300, gt=0)
    """An escalation nobody has acked for this long is shown as overdue."""
    reopen_within_s: float = Field(default=300, ge=0)
    """A condition that comes back this soon after it cleared by itself reopens the same
    escalation instead of adding a new one (a wait hovering around its threshold)."""


QueueMetric = Literal["longest_wait", "waiting", "service_level", "abandon_rate"]


class QueueThresholdRule(_RuleBase):
    kind: Literal["queue_threshold"]
    metric: QueueMetric
    direction: Literal["above", "below"] = "above"
    warn: float | None = None
    alert: float | None = None
    clear: float | None = None
    """Hysteresis: an open escalation resolves only once the value is back past this.
    Defaults to the warn level (or the alert level when there is no warn)."""
    queues: tuple[str, ...] = ()
    """Queue ids this rule watches; empty means every queue."""
    channels: tuple[Literal["voice", "chat", "email", "web", "social", "other"], ...] = ()
    """Channels this rule watches ("voice", "chat"); empty means every channel. A wait in
    seconds means something on a phone queue, not on an e-mail desk's backlog."""
    min_volume: int = Field(default=0, ge=0)
    """For rates (service level, abandonment): ignore the queue until this many contacts
    are behind the figure (for service level, the contacts it counts: answered, and
    abandoned after T; for abandonment, the contacts offered)."""

    @model_validator(mode="after")
    def _levels(self) -> QueueThresholdRule:
        if self.warn is None and self.alert is None:
            raise ValueError(_("a threshold rule needs warn, alert or both"))
        if self.warn is not None and self.alert is not None:
            wrong = self.alert < self.warn if self.direction == "above" else self.alert > self.warn
            if wrong:
                raise ValueError(
                    _("alert must be above warn")
                    if self.direction == "above"
                    else _("alert must be below warn")
                )
        return self

    @property
    def clear_level(self) -> float:
        if self.clear is not None:
            return self.clear
        level = self.warn if self.warn is not None else self.alert
        assert level is not None
        return level

    def level(self, value: float) -> Severity | None:
        def past(threshold: float | None) -> bool:
            if threshold is None:
                return False
            return value >= threshold if self.direction == "above" else value <= threshold

        if past(self.alert):
            return Severity.CRITICAL
        if past(self.warn):
            return Severity.WARNING
        return None

    def cleared(self, value: float) -> bool:
        clear = self.clear_level
        if self.direction == "above":
            return value < clear if self.clear is None else value <= clear
        return value > clear if self.clear is None else value >= clear


class SlaTimeLeftRule(_RuleBase):
    kind: Literal["sla_time_left"]
    warn_fraction: float = Field(default=0.25, gt=0, lt=1)
    """Warn when less than this share of the SLA target is left."""
    alert_on_breach: bool = True
    priorities: tuple[Priority, ...] = ()
    """Only tickets of these priorities; empty means all."""


class TicketFlagRule(_RuleBase):
    kind: Literal["ticket_flag"]
    tags: tuple[str, ...] = ("complaint",)
    helpdesk_escalated: bool = True
    """Also raise for tickets the helpdesk itself marks escalated."""
    severity: Severity = Severity.WARNING


Rule = Annotated[QueueThresholdRule | SlaTimeLeftRule | TicketFlagRule, Field(discriminator="kind")]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule sees for one subject right now."""

    subject: str
    severity: Severity | None  # None: nothing wrong (clear) for this subject
    title: str
    detail: str = ""
    queue_id: str | None = None
    ticket_source: str | None = None
    ticket_id: str | None = None
    hold: bool = False  # not enough data to decide: neither raise nor resolve
    clears: bool = True  # with severity None: back past the clear level (hysteresis)


_METRIC_LABEL = {
    "longest_wait": N_("longest wait"),
    "waiting": N_("waiting"),
    "service_level": N_("service level"),
    "abandon_rate": N_("abandonment"),
}

# An escalation's title is stored in English (the rules read it back, a recording and a hub's
# snapshot carry it to boards in any language) and put into the board's language where it is
# shown (``title_words``). Each shape is one template, used both to word the title and to read
# it back, so the two cannot drift apart.
QUEUE_TITLE: Final = N_("{queue}: {figure} {value}")
QUEUE_TITLE_LEVEL: Final = N_("{queue}: {figure} {value} ({level})")
SLA_BREACHED: Final = N_("SLA breached: {metric} on #{ticket}")
SLA_AT_RISK: Final = N_("SLA at risk: {metric} on #{ticket}, due {due}")
TICKET_FLAGGED: Final = N_("Ticket #{ticket}: {tags}")
TICKET_ESCALATED: Final = N_("Ticket #{ticket}: escalated by the helpdesk")
CLEARED: Final = N_("cleared: {title}")
TITLES: Final = (
    QUEUE_TITLE_LEVEL,
    QUEUE_TITLE,
    SLA_BREACHED,
    SLA_AT_RISK,
    TICKET_ESCALATED,
    TICKET_FLAGGED,
)
"""Most specific first: the first template a title fits is the one it was worded with."""
WITHOUT_TICKET: Final[Mapping[str, str]] = {
    SLA_BREACHED: N_("SLA breached: {metric}"),
    SLA_AT_RISK: N_("SLA at risk: {metric}, due {due}"),
    TICKET_FLAGGED: "{tags}",
    TICKET_ESCALATED: N_("escalated by the helpdesk"),
}
"""A ticket's title where the ticket's number is shown before it (the feed's rows)."""

SLA_METRIC_WORDS: Final[Mapping[str, str]] = {
    "first reply time": N_("first reply time"),
    "next reply time": N_("next reply time"),
    "total resolution time": N_("total resolution time"),
    "periodic update time": N_("periodic update time"),
    "requester wait time": N_("requester wait time"),
    "agent work time": N_("agent work time"),
    "pausable update time": N_("pausable update time"),
    "resolution time": N_("resolution time"),
    "first response time": N_("first response time"),
    "time to resolution": N_("time to resolution"),
    "time to first response": N_("time to first response"),
    "sla": "SLA",
}
"""The SLA metrics the adapters name (``first_reply_time`` shown as words); others as named."""


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A template read back: each ``{name}`` a group; a figure only one of the rules' own."""
    out, at = [], 0
    for field in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[at : field.start()]))
        name = field.group(1)
        if name == "figure":
            words = "|".join(map(re.escape, _METRIC_LABEL.values()))
            out.append(f"(?P<figure>{words})")
        elif name in ("value", "ticket"):
            out.append(rf"(?P<{name}>\S+)")
        else:
            out.append(rf"(?P<{name}>.+)")
        at = field.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out), re.DOTALL)


def title_words(title: str, *, without_ticket: str | None = None) -> str:
    """An escalation's title (or a resolve reason) in the board's language. The rules' own
    words are translated; what came from the floor (queue names, tags, ticket numbers,
    figures) is kept. A title of another shape (a newer version's) is shown as stored.
    ``without_ticket``: the ticket whose number is already shown, left out of the words.
    Remembered per language: the feed asks for its visible rows' titles on every paint."""
    return _title_words(i18n.current(), title, without_ticket)


@lru_cache(maxsize=4096)
def _title_words(language: str, title: str, without_ticket: str | None) -> str:
    del language  # the cache's key: the words are looked up in the language in use
    cleared = _pattern(CLEARED).fullmatch(title)
    if cleared:
        return _(CLEARED).format(title=title_words(cleared.group("title")))
    for template in TITLES:
        found = _pattern(template).fullmatch(title)
        if found is None:
            continue
        values = found.groupdict()
        if without_ticket is not None and values.get("ticket") == without_ticket:
            template = WITHOUT_TICKET.get(template, template)
        if "figure" in values:
            values["figure"] = _(values["figure"])
        if "metric" in values:
            metric = SLA_METRIC_WORDS.get(values["metric"])
            values["metric"] = _(metric) if metric else values["metric"]
        return (_(template) if template != "{tags}" else template).format(**values)
    return title


def _metric_value(kpis: QueueKpis, rule: QueueThresholdRule) -> float | None:
    if rule.metric == "longest_wait":
        return kpis.longest_wait_s
    if rule.metric == "waiting":
        return None if kpis.waiting is None else float(kpis.waiting)
    if kpis.offered is None or kpis.answered is None:
        return None  # the account does not let us read its contacts: nothing to judge
    volume = kpis.sl_counted if rule.metric == "service_level" else kpis.offered
    if volume < rule.min_volume:
        return None
    return kpis.service_level if rule.metric == "service_level" else kpis.abandon_rate


def _show(metric: str, value: float) -> str:
    if metric == "longest_wait":
        return fmt.duration(value)
    if metric == "waiting":
        return str(int(value))
    return fmt.percent(value)


def _level_text(rule: QueueThresholdRule, severity: Severity) -> str:
    level = rule.alert if severity is Severity.CRITICAL else rule.warn
    assert level is not None
    return ("≥ " if rule.direction == "above" else "≤ ") + _show(rule.metric, level)


class RuleEngine:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._by_id = {rule.id: rule for rule in rules}
        self._seen_clear: dict[tuple[str, str], float] = {}

    def findings(self, state: FloorState, now: float) -> Iterator[tuple[Rule, Finding]]:
        kpis: dict[str, QueueKpis] = {}
        for rule in self.rules:
            if isinstance(rule, QueueThresholdRule):
                for queue_id, queue in state.queues.items():
                    if rule.queues and queue_id not in rule.queues:
                        continue
                    if rule.channels and queue.channel.value not in rule.channels:
                        continue
                    if not all(state.caught_up(name) for name in queue.sources):
                        # half-read (abandons read before the answers): not a figure yet
                        yield rule, Finding(f"queue:{queue_id}", None, "", hold=True)
                        continue
                    if queue_id not in kpis:
                        kpis[queue_id] = queue_kpis(state, queue, now)
                    yield rule, self._queue_finding(rule, kpis[queue_id])
            elif isinstance(rule, SlaTimeLeftRule):
                yield from ((rule, f) for f in self._sla_findings(rule, state, now))
            else:
                yield from ((rule, f) for f in self._ticket_findings(rule, state))

    @staticmethod
    def _queue_finding(rule: QueueThresholdRule, kpis: QueueKpis) -> Finding:
        subject = f"queue:{kpis.queue_id}"
        value = _metric_value(kpis, rule)
        label = _METRIC_LABEL[rule.metric]
        if value is None:
            return Finding(subject, None, "", queue_id=kpis.queue_id, hold=True)
        severity = rule.level(value)
        shown = _show(rule.metric, value)
        if severity is None:
            title = QUEUE_TITLE.format(queue=kpis.name, figure=label, value=shown)
        else:
            title = QUEUE_TITLE_LEVEL.format(
                queue=kpis.name, figure=label, value=shown, level=_level_text(rule, severity)
            )
        return Finding(subject, severity, title, queue_id=kpis.queue_id, clears=rule.cleared(value))

    @staticmethod
    def _sla_findings(rule: SlaTimeLeftRule, state: FloorState, now: float) -> Iterator[Finding]:
        for ref, metrics in state.slas.items():
            ticket = state.tickets.get(ref)
            if ticket is None or not ticket.status.is_open:
                continue
            if rule.priorities and ticket.priority not in rule.priorities:
                continue
            caught_up = state.caught_up(ticket.source)
            for sla in metrics.values():
                if not caught_up:
                    yield Finding(f"sla:{ref}:{sla.metric}", None, "", hold=True)
                    continue
                if sla.state is SlaState.PAUSED:
                    continue
                left = sla.due_at - now
                metric = sla.metric.replace("_", " ")
                severity: Severity | None = None
                if sla.state is SlaState.BREACHED or left <= 0:
                    severity = Severity.CRITICAL if rule.alert_on_breach else Severity.WARNING
                    title = SLA_BREACHED.format(metric=metric, ticket=ticket.ticket_id)
                elif left < rule.warn_fraction * sla.target_s:
                    severity = Severity.WARNING
                    title = SLA_AT_RISK.format(
                        metric=metric, ticket=ticket.ticket_id, due=fmt.duration(left)
                    )
                else:
                    title = ""
                yield Finding(
                    f"sla:{ref}:{sla.metric}",
                    severity,
                    title,
                    detail=ticket.subject,
                    queue_id=ticket.queue_id,
                    ticket_source=ticket.source,
                    ticket_id=ticket.ticket_id,
                )

    @staticmethod
    def _ticket_findings(rule: TicketFlagRule, state: FloorState) -> Iterator[Finding]:
        for ref, ticket in state.tickets.items():
            if not ticket.status.is_open:
                continue
            tagged = [t for t in rule.tags if t in ticket.tags]
            flagged = rule.helpdesk_escalated and ticket.escalated
            if not tagged and not flagged:
                continue
            if not state.caught_up(ticket.source):
                yield Finding(f"ticket:{ref}", None, "", hold=True)
                continue
            if tagged:
                title = TICKET_FLAGGED.format(ticket=ticket.ticket_id, tags=", ".join(tagged))
            else:
                title = TICKET_ESCALATED.format(ticket=ticket.ticket_id)
            yield Finding(
                f"ticket:{ref}",
                rule.severity,
                title,
                detail=ticket.subject,
                queue_id=ticket.queue_id,
                ticket_source=ticket.source,
                ticket_id=ticket.ticket_id,
            )

    def live_titles(self, state: FloorState, now: float) -> Callable[[Escalation], str | None]:
        """The title of an open queue escalation with the value now ("longest wait 2:44"
        while the escalation was raised at 2:00), None for the others: the board shows the
        figure as it is now; the value at raise stays in the escalation's history. Asked
        per escalation, so the board figures only the lines on screen (a floor of a
        thousand queues holds thousands of escalations), each queue once per ``now``."""
        kpis: dict[str, QueueKpis] = {}

        def title(esc: Escalation) -> str | None:
            rule = self._by_id.get(esc.rule_id)
            if not esc.is_open or not isinstance(rule, QueueThresholdRule) or not esc.queue_id:
                return None
            queue = state.queues.get(esc.queue_id)
            if queue is None:
                return None
            figures = kpis.get(esc.queue_id)
            if figures is None:
                figures = kpis[esc.queue_id] = queue_kpis(state, queue, now)
            finding = self._queue_finding(rule, figures)
            return None if finding.hold else finding.title

        return title

    def evaluate(self, state: FloorState, now: float) -> list[NewEvent]:
        latest: dict[tuple[str, str], Escalation] = {}
        for known in state.escalations.values():
            subject_key = (known.rule_id, known.subject)
            if subject_key not in latest or known.raised_seq > latest[subject_key].raised_seq:
                latest[subject_key] = known
        seen: set[tuple[str, str]] = set()
        out: list[NewEvent] = []
        for rule, finding in self.findings(state, now):
            key = (rule.id, finding.subject)
            seen.add(key)
            if finding.hold:
                continue
            esc = latest.get(key)
            open_esc = esc if esc is not None and esc.is_open else None
            if finding.severity is None and finding.clears and esc is not None:
                self._seen_clear[key] = now  # only subjects with a history need remembering
            if open_esc is not None:
                stepped_up = (
                    finding.severity is not None and finding.severity.rank > open_esc.severity.rank
                )
                if stepped_up:
                    out.append(self._raise(rule, finding, open_esc.escalation_id, now))
                elif finding.severity is None and finding.clears:
                    out.append(self._resolve(open_esc, CLEARED.format(title=finding.title), now))
                continue
            if finding.severity is None:
                continue
            resolved_by_hand = esc is not None and esc.resolved_by is not None
            if (
                resolved_by_hand
                and esc is not None
                and esc.resolved_at is not None
                and (self._seen_clear.get(key, float("-inf")) < esc.resolved_at)
            ):
                continue  # resolved by hand while the condition held: wait until it clears
            if (
                esc is not None
                and esc.resolved_by is None
                and esc.resolved_at is not None
                and now - esc.resolved_at <= rule.reopen_within_s
            ):
                out.append(self._raise(rule, finding, esc.escalation_id, now, reopen=True))
                continue
            escalation_id = f"{rule.id}|{finding.subject}|{now:.0f}"
            out.append(self._raise(rule, finding, escalation_id, now))
        # Subjects that disappeared (ticket solved, SLA fulfilled) resolve their escalations.
        for key, esc in latest.items():
            if esc.is_open and key not in seen and key[0] in self._by_id:
                self._seen_clear[key] = now
                out.append(self._resolve(esc, "cleared: no longer applies", now))
        return out

    @staticmethod
    def _raise(
        rule: Rule, finding: Finding, escalation_id: str, now: float, *, reopen: bool = False
    ) -> NewEvent:
        assert finding.severity is not None
        payload = EscalationRaised(
            escalation_id=escalation_id,
            rule_id=rule.id,
            subject=finding.subject,
            queue_id=finding.queue_id,
            ticket_source=finding.ticket_source,
            ticket_id=finding.ticket_id,
            severity=finding.severity,
            title=finding.title,
            detail=finding.detail,
            raised_at=now,
        )
        key = f"raise:{escalation_id}:{finding.severity.value}"
        if reopen:  # the same escalation raised again: a fact of its own
            key = f"reopen:{escalation_id}:{now:.3f}"
        return NewEvent(
            source=RULES_SOURCE, key=key, occurred_at=now, received_at=now, payload=payload
        )

    @staticmethod
    def _resolve(esc: Escalation, reason: str, now: float) -> NewEvent:
        payload = EscalationResolved(
            escalation_id=esc.escalation_id, by=None, reason=reason, at=now
        )
        reopened = sum(1 for _at, what in esc.history if what.startswith("reopened"))
        return NewEvent(
            source=RULES_SOURCE,
            key=f"resolve:{esc.escalation_id}" + (f":{reopened}" if reopened else ""),
            occurred_at=now,
            received_at=now,
            payload=payload,
        )
