//! Character references: `&name;`, `&#123;`, `&#x1F600;`.
//!
//! Named references need their `;` (so `?a=1&copy=2` stays as written) and cover the
//! HTML 4 set: Latin-1, Greek, punctuation, arrows and a few maths symbols. Anything else
//! is left as literal text. Numeric references follow the HTML rules: 0, surrogates and
//! values past U+10FFFF become U+FFFD, and 0x80–0x9F are read as Windows-1252.

const REPLACEMENT: char = '\u{FFFD}';

/// Names of U+00A0..=U+00FF, in code point order.
const LATIN1: &str = "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy \
    reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 \
    frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml \
    Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave \
    Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil \
    egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde \
    ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml";

/// Names of U+0391..=U+03A9 (`-` marks the unassigned U+03A2).
const GREEK_UPPER: &str = "Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu \
    Nu Xi Omicron Pi Rho - Sigma Tau Upsilon Phi Chi Psi Omega";

/// Names of U+03B1..=U+03C9.
const GREEK_LOWER: &str = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu \
    nu xi omicron pi rho sigmaf sigma tau upsilon phi chi psi omega";

const OTHERS: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Yuml", 'Ÿ'),
    ("fnof", 'ƒ'),
    ("circ", 'ˆ'),
    ("tilde", '˜'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("lrm", '\u{200E}'),
    ("rlm", '\u{200F}'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("sbquo", '‚'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bdquo", '„'),
    ("dagger", '†'),
    ("Dagger", '‡'),
    ("bull", '•'),
    ("hellip", '…'),
    ("permil", '‰'),
    ("prime", '′'),
    ("Prime", '″'),
    ("lsaquo", '‹'),
    ("rsaquo", '›'),
    ("euro", '€'),
    ("trade", '™'),
    ("larr", '←'),
    ("uarr", '↑'),
    ("rarr", '→'),
    ("darr", '↓'),
    ("harr", '↔'),
    ("lArr", '⇐'),
    ("rArr", '⇒'),
    ("hArr", '⇔'),
    ("forall", '∀'),
    ("part", '∂'),
    ("exist", '∃'),
    ("empty", '∅'),
    ("isin", '∈'),
    ("notin", '∉'),
    ("sum", '∑'),
    ("minus", '−'),
    ("radic", '√'),
    ("infin", '∞'),
    ("and", '∧'),
    ("or", '∨'),
    ("cap", '∩'),
    ("cup", '∪'),
    ("int", '∫'),
    ("asymp", '≈'),
    ("ne", '≠'),
    ("equiv", '≡'),
    ("le", '≤'),
    ("ge", '≥'),
    ("sdot", '⋅'),
    ("loz", '◊'),
    ("check", '✓'),
];

/// Windows-1252 meanings of 0x80..=0x9F (0 = keep the code point, as HTML does).
const CP1252: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0, 0,
    0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Calls `emit` for every character of `text` with its character references decoded.
/// Soft hyphens written as `&shy;` are dropped (they only split words for search).
pub(super) fn decode(text: &str, mut emit: impl FnMut(char)) {
    let mut literal_from = 0;
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find('&') {
        let amp = search_from + offset;
        match reference_at(text, amp) {
            Some((decoded, len)) => {
                text[literal_from..amp].chars().for_each(&mut emit);
                if let Some(c) = decoded {
                    emit(c);
                }
                literal_from = amp + len;
                search_from = literal_from;
            }
            None => search_from = amp + 1,
        }
    }
    text[literal_from..].chars().for_each(emit);
}

/// The reference starting at `amp` (a `&`): its character (None: decodes to nothing) and
/// its length in bytes, or None when it is not a reference and stays literal.
fn reference_at(text: &str, amp: usize) -> Option<(Option<char>, usize)> {
    let bytes = text.as_bytes();
    let mut at = amp + 1;
    if bytes.get(at) == Some(&b'#') {
        let hex = matches!(bytes.get(at + 1), Some(b'x' | b'X'));
        at += if hex { 2 } else { 1 };
        let digits_from = at;
        let radix = if hex { 16 } else { 10 };
        let mut value: u32 = 0;
        while let Some(digit) = bytes.get(at).and_then(|&b| (b as char).to_digit(radix)) {
            // Saturate just past the Unicode range: the value is only ever "too big" then.
            value = (value * radix + digit).min(0x11_0000);
            at += 1;
        }
        if at == digits_from {
            return None;
        }
        if bytes.get(at) == Some(&b';') {
            at += 1;
        }
        return Some((Some(numeric(value)), at - amp));
    }
    let name_from = at;
    while at - name_from < 32 && bytes.get(at).is_some_and(u8::is_ascii_alphanumeric) {
        at += 1;
    }
    if at == name_from || bytes.get(at) != Some(&b';') {
        return None;
    }
    let c = named(&text[name_from..at])?;
    Some(((c != '\u{AD}').then_some(c), at + 1 - amp))
}

fn numeric(value: u32) -> char {
    match value {
        0 | 0xD800..=0xDFFF => REPLACEMENT,
        0x80..=0x9F => match CP1252[(value - 0x80) as usize] {
            0 => char::from_u32(value).unwrap_or(REPLACEMENT),
            mapped => char::from_u32(u32::from(mapped)).unwrap_or(REPLACEMENT),
        },
        _ => char::from_u32(value).unwrap_or(REPLACEMENT),
    }
}

fn named(name: &str) -> Option<char> {
    if let Some(&(_, c)) = OTHERS.iter().find(|(n, _)| *n == name) {
        return Some(c);
    }
    let in_block = |names: &str, first: u32| {
        let index = names.split_ascii_whitespace().position(|n| n == name)?;
        char::from_u32(first + index as u32)
    };
    in_block(LATIN1, 0xA0).or_else(|| in_block(GREEK_UPPER, 0x391)).or_else(|| in_block(GREEK_LOWER, 0x3B1))
}

#[cfg(test)]
mod tests {
    use super::decode;

    fn decoded(text: &str) -> String {
        let mut out = String::new();
        decode(text, |c| out.push(c));
        out
    }

    #[test]
    fn named_references() {
        assert_eq!(decoded("a &amp; b &lt;&gt; &quot;x&quot; &apos;"), "a & b <> \"x\" '");
        assert_eq!(decoded("&copy;&eacute;&Omega;&sigmaf;&yuml;&nbsp;&euro;"), "©éΩςÿ\u{A0}€");
        assert_eq!(decoded("soft&shy;hyphen"), "softhyphen");
    }

    #[test]
    fn numeric_references() {
        assert_eq!(decoded("&#65;&#x42;&#X43;&#100"), "ABCd");
        assert_eq!(decoded("&#x1F600;"), "😀");
        assert_eq!(decoded("&#0;&#xD800;&#x110000;&#99999999999999999999;"), "\u{FFFD}".repeat(4));
        assert_eq!(decoded("&#146;&#x81;"), "’\u{81}");
    }

    #[test]
    fn non_references_stay_literal() {
        for text in ["&", "& b", "&#;", "&#x;", "&unknown;", "?a=1&copy=2", "&amp", "x&&y;", "&é;"] {
            assert_eq!(decoded(text), text);
        }
    }
}
