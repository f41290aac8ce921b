use super::html_to_text;

fn has_markup(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
}

#[test]
fn drops_script_style_and_friends_with_their_content() {
    let html = "<p>keep</p><script>alert('x')</script><STYLE>p{color:red}</STYLE>\
        <template><p>tpl</p></template><noscript>ns</noscript><iframe src=x>if</iframe>\
        <svg><text>svg</text><svg/></svg><!-- secret --><![CDATA[ cdata ]]><p>also</p>";
    assert_eq!(html_to_text(html), "keep\n\nalso");
    assert_eq!(html_to_text("<template/>x</template>y<svg/>z"), "yz");
    assert_eq!(html_to_text("<svg><template><svg></svg></template></svg>after"), "after");
}

#[test]
fn script_end_tag_variants_and_quoted_gt() {
    assert_eq!(html_to_text("a<script>x</script >b"), "ab");
    assert_eq!(html_to_text("a<script type='text/js'>if (a</b) {}</scripty></ScRiPt\t\n>b"), "ab");
    assert_eq!(html_to_text(r#"<a title="x > y" href='>'>link</a>"#), "link");
    assert_eq!(html_to_text("<script><!--<script></script>hidden--></script>shown"), "shown");
}

#[test]
fn unclosed_things_drop_the_rest() {
    assert_eq!(html_to_text("ok<script>alert(1)"), "ok");
    assert_eq!(html_to_text("ok<!-- never closed <p>x"), "ok");
    assert_eq!(html_to_text("ok<div class=\"x>y"), "ok");
    assert_eq!(html_to_text("ok<style>"), "ok");
    assert_eq!(html_to_text("ok<svg><p>inside"), "ok");
}

#[test]
fn tricks_never_yield_markup() {
    for html in [
        "<scr<script>ipt>alert(1)</script>",
        "<<script>script>alert(1)</script>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;<b></b>script>",
        "<</b>script>",
        "&#60;style&#62;",
        "<pre>&lt;script&gt;</pre>",
        "<title>&lt;script&gt;</title>",
        "< script>",
        "<",
        "&lt;",
        "<p>1 < 2 and 3 > 2</p>",
    ] {
        let text = html_to_text(html);
        assert!(!has_markup(&text), "{html:?} gave {text:?}");
        assert!(!text.to_ascii_lowercase().contains("<script"), "{html:?} gave {text:?}");
    }
    assert_eq!(html_to_text("&lt;script&gt;x"), "< script>x");
    assert_eq!(html_to_text("<p>1 < 2 and 3 > 2</p>"), "1 < 2 and 3 > 2");
}

#[test]
fn entities_decoded_and_whitespace_collapsed() {
    assert_eq!(
        html_to_text("<p>  Fish &amp;\n\t chips&nbsp;&nbsp;&#8364;5 &#x1F41F; &bogus; </p>"),
        "Fish & chips €5 🐟 &bogus;"
    );
}

#[test]
fn blocks_headings_lists_tables() {
    let html = "<html><head><title>T</title></head><body>\
        <h1>Guide</h1><p>Intro <b>bold</b>\ntext.</p>\
        <h2 class=x>Install</h2><ul><li>one</li><li>two<br>lines</li></ul>\
        <h3>Linux <small>(x86)</small></h3><div>a</div><div>b</div>\
        <table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td></td><td>1</td></tr></table>\
        <h4></h4><p>end</p></body></html>";
    assert_eq!(
        html_to_text(html),
        "T\n\n# Guide\n\nIntro bold text.\n\n## Install\n\n- one\n- two\nlines\n\n\
         ### Linux (x86)\n\na\nb\n\nk | v\na | 1\n\nend"
    );
}

#[test]
fn heading_left_open_ends_at_next_block() {
    assert_eq!(html_to_text("<h2>Title<p>body</p>"), "## Title\n\nbody");
    assert_eq!(html_to_text("<h1>a<br>b</h1>"), "# a b");
}

#[test]
fn pre_becomes_a_fence_with_whitespace_kept() {
    let html = "<p>Run:</p><pre>\n  # not a heading\r\n  <b>ls</b>  -l\n\n</pre>after";
    assert_eq!(html_to_text(html), "Run:\n\n```\n  # not a heading\n  ls  -l\n```\n\nafter");
    assert_eq!(html_to_text("<pre>a ``` b</pre>"), "````\na ``` b\n````");
    assert_eq!(html_to_text("<pre><div>x</div><div>y</div></pre>"), "```\nx\ny\n```");
    assert_eq!(html_to_text("<pre>   </pre>x"), "x");
    assert_eq!(html_to_text("<pre>unclosed"), "```\nunclosed\n```");
}

#[test]
fn odd_tag_shapes() {
    assert_eq!(html_to_text("a</>b</ x>c<!doctype html>d<?php echo ?>e"), "abcde");
    assert_eq!(html_to_text("a<!-->b<!--->c<!-- x --!>d"), "abcd");
    assert_eq!(html_to_text("<p\nclass=a\n>x</p\n>"), "x");
    assert_eq!(html_to_text("x <3 y"), "x <3 y");
    assert_eq!(html_to_text(""), "");
    assert_eq!(html_to_text("<br/><br/>"), "");
}
