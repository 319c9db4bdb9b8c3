//! XML text for the documents we write by hand: KML exports and SVG charts.

/// XML 1.0 character data and attribute values: the five predefined entities escaped, and the control
/// characters XML 1.0 does not allow (all but tab, newline and carriage return) written as spaces, so a stray
/// byte in a note cannot make the document unreadable.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn entities_and_control_characters() {
        assert_eq!(super::escape("a<b & \"c\" 'd'>\u{1}\n"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt; \n");
    }
}
