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

/// For `#[serde(deserialize_with = …)]`: an optional id of digits, given as a string or as the
/// number an environment variable is parsed into (`CONVOPS_…=123456` arrives as an integer).
pub fn digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(
        <Option<Id> as serde::Deserialize>::deserialize(d)?.map(|id| match id {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }),
    )
}
