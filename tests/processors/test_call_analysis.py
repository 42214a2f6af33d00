"""Call analysis rules on transcripts: action items (assignee, deadline, priority), sentiment, stress, summary."""

from __future__ import annotations

from datetime import UTC, datetime

from processors.calls.analysis import (
    Utterance,
    extract_actions,
    overall_sentiment,
    resolve_deadline,
    score_sentiment,
    summarize,
)

MONDAY_3PM = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def turns(*lines: tuple[str, str]) -> list[Utterance]:
    return [Utterance(i * 5.0, i * 5.0 + 4.0, speaker, text) for i, (speaker, text) in enumerate(lines)]


def test_commitments_go_to_who_made_them_and_requests_to_the_other_party() -> None:
    call = turns(("agent", "I'll email you the lease quote by Friday."),
                 ("customer", "Great. Can you also check if the blue one has the towing package?"),
                 ("agent", "Sure. Please bring your title and both keys when you come in."),
                 ("customer", "I will bring my husband on Saturday."))
    actions = extract_actions(score_sentiment(call), MONDAY_3PM, agent_id="bdc-7")
    by_task = {a.task: a for a in actions}
    assert set(by_task) == {"Email you the lease quote by Friday", "Check if the blue one has the towing package",
                            "Bring your title and both keys when you come in", "Bring my husband on Saturday"}
    assert by_task["Email you the lease quote by Friday"].assignee == "bdc-7"  # the agent's own commitment
    assert by_task["Check if the blue one has the towing package"].assignee == "bdc-7"  # asked of the agent
    assert by_task["Bring your title and both keys when you come in"].assignee == "customer"
    assert by_task["Bring my husband on Saturday"].assignee == "customer"
    assert by_task["Email you the lease quote by Friday"].deadline == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert by_task["Bring my husband on Saturday"].deadline == datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


def test_phrases_that_commit_to_nothing_are_not_action_items() -> None:
    call = turns(("agent", "I'll be honest with you, I can see why you are upset."),
                 ("customer", "Can you hear me? I will think about it."))
    assert extract_actions(score_sentiment(call), MONDAY_3PM) == []


def test_two_commitments_in_one_sentence_are_two_items_with_their_own_deadlines() -> None:
    call = turns(("agent", "I will call the distributor today and give you an update by Wednesday."))
    first, second = extract_actions(score_sentiment(call), MONDAY_3PM)
    assert first.task == "Call the distributor today" and first.deadline == datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert second.task == "Give you an update by Wednesday"
    assert second.deadline == datetime(2026, 11, 25, 17, tzinfo=UTC)


def test_deadlines_resolve_against_the_call_start() -> None:
    assert resolve_deadline("call you back tomorrow at 10 am", MONDAY_3PM) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert resolve_deadline("send it by end of day", MONDAY_3PM) == datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert resolve_deadline("get it done by the end of the week", MONDAY_3PM) == datetime(2026, 11, 27, 17,
                                                                                         tzinfo=UTC)
    assert resolve_deadline("send you the brochure", MONDAY_3PM) is None
    assert resolve_deadline("we can get that done", MONDAY_3PM) is None  # "we" is no date to dateparser here


def test_priority_follows_urgency_words_and_stress() -> None:
    call = turns(("customer", "Please call me back as soon as possible."),
                 ("agent", "I will send the brochure whenever you like, no rush."),
                 ("customer", "This is ridiculous. You need to replace the part."))
    priorities = {a.task: a.priority for a in extract_actions(score_sentiment(call), MONDAY_3PM)}
    assert priorities == {"Call me back as soon as possible": "high",
                          "Send the brochure whenever you like, no rush": "low",
                          "Replace the part": "high"}


def test_sentiment_is_the_customers_and_stress_is_marked_per_segment() -> None:
    angry = score_sentiment(turns(("agent", "Thank you so much for calling, we appreciate you."),
                                  ("customer", "This is the third time. It is unacceptable and I am furious."),
                                  ("customer", "Okay, thanks.")))
    assert overall_sentiment(angry)[0] == "negative"  # the agent's politeness does not count for the customer
    assert [s.stress for s in angry] == [False, True, False]
    happy = score_sentiment(turns(("customer", "Wonderful, that is perfect. I really appreciate it.")))
    label, score = overall_sentiment(happy)
    assert label == "positive" and score > 0.5
    flat = score_sentiment(turns(("customer", "The car is in the garage."), ("agent", "It is on the list.")))
    assert overall_sentiment(flat) == ("neutral", 0.0)


def test_summary_is_sentences_of_the_call_in_order_and_prefers_action_items() -> None:
    call = turns(("agent", "Good afternoon, this is Riverside Honda service."),
                 ("customer", "My Civic is due for an oil change and the tires are noisy."),
                 ("agent", "We have an opening on Wednesday morning for the oil change."),
                 ("customer", "The weather is nice today, by the way, very sunny."),
                 ("agent", "I will send you a text confirmation tonight for the oil change."))
    actions = extract_actions(score_sentiment(call), MONDAY_3PM)
    summary = summarize(call, actions)
    assert "Agent: I will send you a text confirmation tonight for the oil change." in summary
    assert "weather" not in summary
    assert summary.index("Customer: My Civic") < summary.index("Agent: I will send")
