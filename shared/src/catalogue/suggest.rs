//! "Did you mean": the catalogue ids closest to a mistyped one.

/// Up to three ids, closest first: those containing what was typed, then those within a few
/// edits of it.
pub(super) fn closest<'a>(wanted: &str, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = ids
        .map(|id| {
            let lower = id.to_ascii_lowercase();
            // An id that extends what was typed is the likeliest meaning, then one that what was
            // typed extends, then the nearest by edits.
            let score = if !wanted.is_empty() && lower.contains(&wanted) {
                0
            } else if !lower.is_empty() && wanted.contains(&lower) {
                1
            } else {
                edit_distance(&wanted, &lower)
            };
            (score, id)
        })
        .collect();
    scored.sort();
    let threshold = (wanted.len() / 3).max(2);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= threshold)
        .take(3)
        .map(|(_, id)| id.to_string())
        .collect()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous_diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous_diagonal + usize::from(ca != *cb);
            previous_diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("a100", "a100"), 0);
    }

    #[test]
    fn prefix_typed_finds_the_full_id() {
        let ids = ["a100-40gb", "a100-80gb", "h100-80gb", "l4"];
        assert_eq!(closest("a100", ids.into_iter()), ["a100-40gb", "a100-80gb"]);
    }

    #[test]
    fn nothing_close_gives_nothing() {
        assert!(closest("zzzzzzzzzz", ["a100-40gb", "l4"].into_iter()).is_empty());
    }
}
