package longboat.moderation_test

import data.longboat.moderation

_post(text) := {"agent": {"id": "moderator"}, "input": {"text": text}}

test_plain_post_allowed if {
	d := moderation.decision with input as _post("Lovely weather in Porto today")
	d == {"verdict": "allow", "reasons": []}
}

test_blocked_word_blocks if {
	d := moderation.decision with input as _post("This is a SCAM, refund now")
	d.verdict == "block"
	d.reasons == ["blocked word: scam"]
}

test_flagged_word_flags if {
	d := moderation.decision with input as _post("I want a refund")
	d == {"verdict": "flag", "reasons": ["flagged word: refund"]}
}

test_too_many_links_flag if {
	d := moderation.decision with input as _post("see http://a.example and https://b.example")
	d == {"verdict": "flag", "reasons": ["more than 1 links"]}
}

test_rules_are_data if {
	rules := {"block_words": ["crypto"], "flag_words": [], "max_links": 5}
	d := moderation.decision with input as _post("Buy crypto") with data.longboat.moderation.rules as rules
	d.verdict == "block"
}

test_no_text_is_allowed if {
	d := moderation.decision with input as {"agent": {"id": "m"}, "input": {}}
	d.verdict == "allow"
}
