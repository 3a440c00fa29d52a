# METADATA
# title: Content moderation rules
# description: |
#   A governed policy question: agents holding capability policy:moderation ask
#   POST /v1/decisions/moderation (ctx.decide("moderation", {"text": ...})) and the gateway
#   asks for data.longboat.moderation.decision with {agent, input}. The rules are data
#   (data.longboat.moderation.rules, policies/longboat/moderation/data.json): publishing a
#   changed file with `longboat policy publish` changes the verdicts of running agents.
package longboat.moderation

default _rules := {"block_words": [], "flag_words": [], "max_links": 1000}

_rules := data.longboat.moderation.rules

# METADATA
# description: The one entrypoint, {"verdict", "reasons"}; verdict is allow, flag or block.
# entrypoint: true
decision := {"verdict": verdict, "reasons": sort(reasons)}

default verdict := "allow"

verdict := "block" if count(_blocks) > 0

verdict := "flag" if {
	count(_blocks) == 0
	count(_flags) > 0
}

reasons := _blocks if count(_blocks) > 0

reasons := _flags if {
	count(_blocks) == 0
	count(_flags) > 0
}

reasons := set() if {
	count(_blocks) == 0
	count(_flags) == 0
}

_text := lower(object.get(input.input, "text", ""))

_blocks contains sprintf("blocked word: %s", [word]) if {
	some word in _rules.block_words
	contains(_text, lower(word))
}

_flags contains sprintf("flagged word: %s", [word]) if {
	some word in _rules.flag_words
	contains(_text, lower(word))
}

_flags contains sprintf("more than %d links", [_rules.max_links]) if {
	count(regex.find_n(`https?://`, _text, -1)) > _rules.max_links
}
