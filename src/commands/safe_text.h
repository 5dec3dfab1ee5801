#pragma once
// Names, search queries and URLs come from the account: anyone who can
// name a user or type a search writes them. Shown to a person they must
// neither drive the terminal (C0/C1 controls, ESC, OSC, BEL) nor reorder or
// hide what stands beside them (bidi overrides and isolates, zero-width
// characters): a name holding U+202E would show the agent id next to it
// reversed. These functions make such characters visible instead.
#include <string>
#include <string_view>

namespace zf::app {

// True for a code point that must not reach a reader raw: C0 and C1
// controls, DEL, bidi embedding/override/isolate/mark characters, and
// zero-width or invisible formatting characters.
bool is_hidden_control(char32_t cp);

// For a terminal: each hidden control as \xNN (below U+0100) or \u{NNNN},
// each byte that is not valid UTF-8 as \xNN; everything else as is.
std::string printable(std::string_view s);

// For HTML text or attribute content: markup escaped, each hidden control
// (and each invalid byte) shown as a visible marker such as [U+202E].
// Callers put names inside <bdi> (or an isolating tspan) as well.
std::string html_text(std::string_view s);

// Each hidden control as a visible marker such as [U+202E] (and each
// invalid byte as [0xFF]); nothing escaped. html_text is this, escaped.
std::string visible(std::string_view s);

// Display width in code points (what the text tables pad by).
size_t display_width(std::string_view s);

// At most `max` code points of `s`, with "..." when cut (never inside a
// UTF-8 sequence).
std::string shortened(std::string_view s, size_t max);

}  // namespace zf::app
