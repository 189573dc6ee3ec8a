//! Plain-text tables and number formatting for terminal output.

/// Left-aligned columns separated by two spaces; numbers are right-aligned when a column's
/// header starts with a space.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].trim().chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let right = header[c].starts_with(' ');
            let pad = widths[c] - cell.chars().count();
            if c > 0 {
                out.push_str("  ");
            }
            if right {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if c + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    // A table whose headers are all blank is a list of label/value pairs: no header line.
    let mut out = if header.iter().all(|h| h.trim().is_empty()) {
        String::new()
    } else {
        line(header.iter().map(|h| h.trim()).collect())
    };
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub use jauge::units::thousands;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_headers_print_no_header_line() {
        assert_eq!(render(&["", ""], &[vec!["a".into(), "1".into()]]), "a  1\n");
    }

    #[test]
    fn right_aligned_columns_pad_on_the_left() {
        let out = render(
            &["id", " n"],
            &[vec!["a".into(), "5".into()], vec!["bb".into(), "10".into()]],
        );
        assert_eq!(out, "id   n\na    5\nbb  10\n");
    }
}
