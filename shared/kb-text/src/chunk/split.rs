//! Cutting one block that is longer than `max_chars` into pieces of at most `max_chars`.
//!
//! Walks the block's grapheme clusters once (plus at most one piece re-read per cut) and cuts,
//! in order of preference: at a sentence end once the piece has reached `target_chars`; else,
//! when the next cluster would overflow, at the last sentence end, line break or space that
//! leaves the piece at least half of `max_chars`; else just before the cluster that
//! overflows. Only a single cluster longer than `max_chars` (a base with hundreds of
//! combining marks) is cut inside, between characters.

use unicode_segmentation::UnicodeSegmentation;

/// Sentence-ending punctuation; after it, whitespace makes a sentence boundary.
fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '‼' | '⁇' | '؟' | '۔' | '।' | '॥' | '።') || ends_sentence_tight(c)
}

/// Ideographic sentence ends: a boundary even without whitespace after them.
fn ends_sentence_tight(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡')
}

/// Closing quotes and brackets (and Markdown emphasis) that may follow a sentence end.
fn closes(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»' | '›' | '」' | '』' | '）' | '】' | '*' | '_')
}

/// A place to cut: the piece ends at `end` (after its last non-blank cluster), the next one
/// starts at `next`; `chars` is the piece's length in characters.
#[derive(Clone, Copy)]
struct Cut {
    end: usize,
    next: usize,
    chars: usize,
}

#[derive(Default)]
struct Candidates {
    sentence: Option<Cut>,
    line: Option<Cut>,
    space: Option<Cut>,
}

/// Splits `text[start..end]` (which starts and ends with non-blank clusters) into byte
/// ranges of at most `max` characters each, covering every non-blank character.
pub(super) fn split(text: &str, start: usize, end: usize, target: usize, max: usize) -> Vec<(usize, usize)> {
    let max = max.max(1);
    let mut pieces = Vec::new();
    let mut from = start;
    'pieces: while from < end {
        let mut chars = 0; // characters from `from` to the current cluster
        let mut last_end = from; // end of the last non-blank cluster
        let mut last_end_chars = 0;
        let mut gap_has_newline = false;
        let mut sentence_open = false; // the last non-blank clusters end a sentence
        let mut tight_sentence = false;
        let mut found = Candidates::default();
        for (offset, cluster) in text[from..end].grapheme_indices(true) {
            let at = from + offset;
            let len = cluster.chars().count();
            let first = cluster.chars().next().unwrap_or(' ');
            if cluster.chars().all(char::is_whitespace) {
                gap_has_newline |= cluster.contains('\n');
                chars += len;
                continue;
            }
            if at > from {
                let cut = Cut { end: last_end, next: at, chars: last_end_chars };
                let gap = last_end < at;
                if (gap && sentence_open) || tight_sentence {
                    if cut.chars >= target {
                        pieces.push((from, cut.end));
                        from = cut.next;
                        continue 'pieces;
                    }
                    found.sentence = Some(cut);
                }
                if gap && gap_has_newline {
                    found.line = Some(cut);
                } else if gap {
                    found.space = Some(cut);
                }
                if chars + len > max {
                    let floor = max / 2;
                    let best = [found.sentence, found.line, found.space]
                        .into_iter()
                        .flatten()
                        .find(|c| c.chars >= floor)
                        .unwrap_or(cut);
                    pieces.push((from, best.end));
                    from = best.next;
                    continue 'pieces;
                }
            } else if len > max {
                // One cluster longer than a whole piece: cut it between characters, in one pass.
                let mut piece_from = at;
                for (count, (inside, _)) in cluster.char_indices().enumerate() {
                    if count > 0 && count % max == 0 {
                        pieces.push((piece_from, at + inside));
                        piece_from = at + inside;
                    }
                }
                pieces.push((piece_from, at + cluster.len()));
                from = next_non_blank(text, at + cluster.len(), end);
                continue 'pieces;
            }
            // A closing quote or bracket right after a sentence end keeps it open.
            let closes_sentence = closes(first) && last_end == at;
            sentence_open = ends_sentence(first) || (sentence_open && closes_sentence);
            tight_sentence = ends_sentence_tight(first) || (tight_sentence && closes_sentence);
            gap_has_newline = false;
            chars += len;
            last_end = at + cluster.len();
            last_end_chars = chars;
        }
        if last_end > from {
            pieces.push((from, last_end));
        }
        break;
    }
    pieces
}

/// Start of the first non-blank cluster in `text[from..end]` (or `end`).
fn next_non_blank(text: &str, from: usize, end: usize) -> usize {
    text[from..end]
        .grapheme_indices(true)
        .find(|(_, cluster)| !cluster.chars().all(char::is_whitespace))
        .map_or(end, |(offset, _)| from + offset)
}

#[cfg(test)]
mod tests {
    use super::split;

    fn pieces(text: &str, target: usize, max: usize) -> Vec<&str> {
        split(text, 0, text.len(), target, max).into_iter().map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn prefers_sentence_ends() {
        let text = "One two three. Four five six. Seven eight nine. Ten.";
        assert_eq!(pieces(text, 20, 35), vec!["One two three. Four five six.", "Seven eight nine. Ten."]);
        assert_eq!(pieces(text, 10, 20), vec!["One two three.", "Four five six.", "Seven eight nine.", "Ten."]);
    }

    #[test]
    fn then_lines_then_spaces_then_clusters() {
        assert_eq!(pieces("alpha beta\ngamma delta epsilon", 12, 16), vec!["alpha beta", "gamma delta", "epsilon"]);
        assert_eq!(pieces("aaaa bbbb cccc dddd", 8, 10), vec!["aaaa bbbb", "cccc dddd"]);
        assert_eq!(pieces("abcdefghij", 3, 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(pieces("👍🏽👍🏽👍🏽", 3, 5), vec!["👍🏽👍🏽", "👍🏽"]);
    }

    #[test]
    fn ideographic_full_stops_need_no_space() {
        assert_eq!(
            pieces("这是第一句。这是第二句。这是第三句。", 5, 8),
            vec!["这是第一句。", "这是第二句。", "这是第三句。"]
        );
    }

    #[test]
    fn oversized_cluster_is_cut_between_characters() {
        let text = format!("a{} b", "\u{301}".repeat(9));
        assert_eq!(pieces(&text, 2, 4).iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![4, 4, 2, 1]);
    }
}
