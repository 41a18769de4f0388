//! One-line rendering of configuration errors, shared by both binaries.

/// Render a figment error as one line per problem joined with `; `: the dotted key, what is
/// wrong, and the file or environment prefix it came from.
pub fn one_line(e: figment::Error) -> String {
    e.into_iter()
        .map(|err| {
            let mut s = String::new();
            if !err.path.is_empty() {
                s.push_str(&err.path.join("."));
                s.push_str(": ");
            }
            s.push_str(&err.kind.to_string());
            if let Some(meta) = &err.metadata {
                match &meta.source {
                    Some(src) => s.push_str(&format!(" (in {src})")),
                    None => s.push_str(&format!(" (in {})", meta.name)),
                }
            }
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}
