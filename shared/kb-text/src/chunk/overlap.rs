//! Where a chunk starts once it reaches back into the previous one.

use unicode_segmentation::UnicodeSegmentation;

/// The earliest word start in `text[..prev_end]` at most `budget` characters before
/// `prev_end` and after `prev_start`; None when there is none (the chunk then starts at its own
/// content). A word starts after whitespace or, in scripts written without spaces, at any
/// letter.
pub(super) fn start(text: &str, prev_start: usize, prev_end: usize, budget: usize) -> Option<usize> {
    if budget == 0 {
        return None;
    }
    let window = text.get(prev_start..prev_end)?;
    let earliest = prev_start + window.char_indices().rev().nth(budget - 1).map_or(0, |(at, _)| at);
    // Clusters are read from the previous chunk's start, a cluster boundary, so the answer is
    // one too (a cursor placed at `earliest` could have to look back over a whole run of
    // regional indicators for every chunk).
    let mut previous = text[..prev_start].chars().next_back();
    for (offset, cluster) in window.grapheme_indices(true) {
        let at = prev_start + offset;
        let first = cluster.chars().next()?;
        if at >= earliest && at > prev_start && !first.is_whitespace() {
            let after_space = previous.is_none_or(char::is_whitespace);
            // In scripts without spaces any letter starts a word, as does a Latin letter or
            // digit right after them ("日本ABC"); punctuation and symbols never do.
            let unspaced = written_without_spaces(first)
                || (first.is_ascii_alphanumeric() && previous.is_some_and(written_without_spaces));
            if after_space || unspaced {
                return Some(at);
            }
        }
        previous = cluster.chars().next_back();
    }
    None
}

/// Scripts whose words are not separated by spaces (CJK, kana, Thai, Lao, Khmer, Myanmar…).
fn written_without_spaces(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'     // Thai, Lao
        | '\u{1000}'..='\u{109F}'   // Myanmar
        | '\u{1780}'..='\u{17FF}'   // Khmer
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3100}'..='\u{312F}'   // Bopomofo
        | '\u{31F0}'..='\u{31FF}'   // Katakana extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'   // halfwidth Katakana
        | '\u{20000}'..='\u{3FFFF}' // CJK extensions B–H
    )
}

#[cfg(test)]
mod tests {
    use super::start;

    fn overlap(text: &str, budget: usize) -> Option<&str> {
        start(text, 0, text.len(), budget).map(|at| &text[at..])
    }

    #[test]
    fn snaps_forward_to_a_word_start() {
        assert_eq!(overlap("alpha beta gamma", 7), Some("gamma"));
        assert_eq!(overlap("alpha beta gamma", 10), Some("beta gamma"));
        assert_eq!(overlap("alpha beta gamma", 100), Some("beta gamma")); // never the whole previous chunk
        assert_eq!(overlap("alpha beta gamma", 4), None);
        assert_eq!(overlap("alpha beta gamma", 0), None);
        assert_eq!(overlap("x can't", 3), None);
    }

    #[test]
    fn unspaced_scripts_start_at_any_letter() {
        assert_eq!(overlap("日本語の文章です", 3), Some("章です"));
        assert_eq!(overlap("abc 👍🏽👍🏽", 3), None);
        assert_eq!(overlap("abc 👍🏽👍🏽", 4), Some("👍🏽👍🏽"));
        assert_eq!(overlap("本。", 1), None);
        assert_eq!(overlap("x。日本ABC", 5), Some("日本ABC"));
        assert_eq!(overlap("x。日本ABC", 3), Some("ABC"));
        assert_eq!(overlap("x。日本ABC", 2), None);
    }
}
