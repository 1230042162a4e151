//! Tenant markers: every row the soak seeds or writes for tenant `s00042` carries the
//! text `MKs00042Q`, so any answer can be scanned for data of a tenant other than the one
//! asked. Slugs are lower-case letters, digits and `-`, so the upper-case `MK` … `Q`
//! frame cannot be confused with a slug or with another marker.

use std::collections::HashMap;

/// The marker of a tenant.
pub fn marker(slug: &str) -> String {
    format!("MK{slug}Q")
}

/// The tenants whose markers occur in `body`, as indexes into the seeded tenants
/// (`known` maps slug → index); text that only looks like a marker is ignored. Each
/// tenant appears once, with the byte offset of its first marker.
pub fn tenants_in(body: &[u8], known: &HashMap<String, usize>) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while let Some(pos) = find(&body[at..], b"MK").map(|p| p + at) {
        let start = pos + 2;
        let len = body[start..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
            .count();
        let end = start + len;
        if len > 0 && body.get(end) == Some(&b'Q') {
            let slug = String::from_utf8_lossy(&body[start..end]);
            if let Some(&index) = known.get(slug.as_ref()) {
                if !found.iter().any(|(i, _)| *i == index) {
                    found.push((index, pos));
                }
            }
        }
        at = start;
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Up to `width` characters of `body` around byte `pos`, for a report.
pub fn excerpt(body: &[u8], pos: usize, width: usize) -> String {
    let start = pos.saturating_sub(width / 2);
    let end = (start + width).min(body.len());
    String::from_utf8_lossy(&body[start.min(end)..end])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_known_markers_once_and_ignores_look_alikes() {
        let known: HashMap<String, usize> =
            [("s00001".to_owned(), 0), ("s00002".to_owned(), 1)].into();
        let body = br#"{"a":"MKs00001Q","b":"MKs00001Q MKs000011Q MKs00002 MKQ MKs00002Q"}"#;
        let found = tenants_in(body, &known);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(&body[found[1].1..found[1].1 + 9], b"MKs00002Q");
        assert!(tenants_in(b"MK", &known).is_empty());
        assert!(excerpt(body, found[1].1, 20).contains("MKs00002Q"));
        assert_eq!(marker("s00002"), "MKs00002Q");
    }
}
