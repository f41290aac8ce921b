//! The text being written: collapses whitespace, places line breaks lazily (so none lead,
//! trail or pile up), prefixes headings and list items, fences `<pre>` blocks, and keeps the
//! output free of anything an HTML parser would read as markup.

/// What separates the next visible character from the previous one; the strongest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Gap {
    None,
    Space,
    Cell,
    Line,
    Paragraph,
}

#[derive(Debug, Clone, Copy)]
enum Prefix {
    Heading(u8),
    Bullet,
}

/// A `<pre>` being collected; written out fenced when it closes.
struct Pre {
    text: String,
    depth: u32,
    newline_pending: bool,
    skip_first_newline: bool,
    after_cr: bool,
}

pub(super) struct Out {
    text: String,
    gap: Gap,
    prefix: Option<Prefix>,
    in_heading: bool,
    pre: Option<Pre>,
}

impl Out {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Out { text: String::with_capacity(capacity), gap: Gap::None, prefix: None, in_heading: false, pre: None }
    }

    pub(super) fn in_pre(&self) -> bool {
        self.pre.is_some()
    }

    pub(super) fn in_heading(&self) -> bool {
        self.in_heading
    }

    pub(super) fn gap(&mut self, gap: Gap) {
        if let Some(pre) = &mut self.pre {
            if gap >= Gap::Line {
                pre.newline_pending = true;
            }
            return;
        }
        let gap = if self.in_heading { gap.min(Gap::Space) } else { gap };
        self.gap = self.gap.max(gap);
    }

    pub(super) fn push(&mut self, c: char) {
        if let Some(pre) = &mut self.pre {
            pre.push(c);
            return;
        }
        if c.is_whitespace() {
            self.gap(Gap::Space);
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str(match self.gap {
                Gap::None => "",
                Gap::Space => " ",
                Gap::Cell => " | ",
                Gap::Line => "\n",
                Gap::Paragraph => "\n\n",
            });
        }
        self.gap = Gap::None;
        match self.prefix.take() {
            Some(Prefix::Heading(level)) => {
                (0..level).for_each(|_| self.text.push('#'));
                self.text.push(' ');
            }
            Some(Prefix::Bullet) => self.text.push_str("- "),
            None => {}
        }
        push_inert(&mut self.text, c);
    }

    pub(super) fn begin_heading(&mut self, level: u8) {
        self.end_heading();
        self.gap(Gap::Paragraph);
        self.prefix = Some(Prefix::Heading(level));
        self.in_heading = true;
    }

    pub(super) fn end_heading(&mut self) {
        if self.in_heading {
            self.in_heading = false;
            if matches!(self.prefix, Some(Prefix::Heading(_))) {
                self.prefix = None; // nothing was written under it
            }
            self.gap(Gap::Paragraph);
        }
    }

    pub(super) fn bullet(&mut self) {
        self.gap(Gap::Line);
        if !self.in_heading && self.pre.is_none() {
            self.prefix = Some(Prefix::Bullet);
        }
    }

    pub(super) fn begin_pre(&mut self) {
        self.end_heading();
        match &mut self.pre {
            Some(pre) => pre.depth += 1,
            None => {
                self.gap(Gap::Paragraph);
                self.pre = Some(Pre {
                    text: String::new(),
                    depth: 1,
                    newline_pending: false,
                    skip_first_newline: true,
                    after_cr: false,
                });
            }
        }
    }

    pub(super) fn end_pre(&mut self) {
        let Some(pre) = &mut self.pre else { return };
        pre.depth -= 1;
        if pre.depth > 0 {
            return;
        }
        let Some(pre) = self.pre.take() else { return };
        let body = pre.text.trim_end();
        // Drop leading blank lines but keep the first line's indentation.
        let first_line = body.len() - body.trim_start().len();
        let body = match body[..first_line].rfind('\n') {
            Some(newline) => &body[newline + 1..],
            None => body,
        };
        if body.is_empty() {
            self.gap(Gap::Paragraph);
            return;
        }
        let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest_run.max(2) + 1);
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.prefix = None;
        self.text.push_str(&fence);
        self.text.push('\n');
        self.text.push_str(body);
        self.text.push('\n');
        self.text.push_str(&fence);
        self.gap = Gap::Paragraph;
    }

    pub(super) fn finish(mut self) -> String {
        if let Some(pre) = &mut self.pre {
            pre.depth = 1;
            self.end_pre();
        }
        self.text
    }
}

impl Pre {
    fn push(&mut self, c: char) {
        let after_cr = std::mem::replace(&mut self.after_cr, c == '\r');
        let c = match c {
            '\n' if after_cr => return,
            '\r' => '\n',
            c => c,
        };
        if c == '\n' && self.skip_first_newline && self.text.is_empty() {
            self.skip_first_newline = false;
            return;
        }
        self.skip_first_newline = false;
        if self.newline_pending {
            self.newline_pending = false;
            if !self.text.is_empty() && !self.text.ends_with('\n') && c != '\n' {
                self.text.push('\n');
            }
        }
        push_inert(&mut self.text, c);
    }
}

/// Appends `c`, putting a space between a `<` and anything that would open a tag, a comment
/// or a declaration with it: the output never contains markup, whatever the input decoded to.
fn push_inert(text: &mut String, c: char) {
    if (c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?')) && text.ends_with('<') {
        text.push(' ');
    }
    text.push(c);
}
