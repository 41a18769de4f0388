//! Vendor secret-token formats: one row per format, a reviewed data table built from what secret
//! scanners' rule sets document (the gitleaks default config, `config/gitleaks.toml`, and its rule
//! sources; Nosey Parker's and TruffleHog's rules where gitleaks has none) and from vendors' own
//! token documentation. Formats already handled by `redact.rs` (AWS, GitHub, GitLab `glpat-`, Slack
//! `xox[abposr]-` and `hooks.slack.com` webhooks, Stripe, GCP, SendGrid, Twilio, npm, PyPI,
//! OpenAI/Anthropic, Datadog, Azure storage, Mailchimp, JWT, PEM private keys, bearer/basic) are
//! left out, except where a row covers a shape `redact.rs` misses (its comment says so).
//!
//! Keyword-gated rows (a value that is only a secret next to the vendor's name) follow gitleaks'
//! generic shape: the keyword, up to 30 name characters, an assignment operator (`=`, `:`, `:=`,
//! `=>`, `?=`, `||`, `,`, `>`), optional quotes, the value as group `v`, then a delimiter or the
//! end of the line. Public identifiers that scanners also flag (client IDs, publishable keys) are
//! not secrets and are left out. Every `example` is made up (random characters of the right shape).

/// One documented token format.
pub struct VendorToken {
    /// The kind shown in the pseudonym, `[kind:xxxx]`: lower snake case, e.g. `slack_app_token`.
    pub kind: &'static str,
    /// Literals (ASCII case-insensitive) of which the line must contain at least one for the
    /// pattern to match at all: a necessary condition of `pattern` (a prefix like `xapp-`, or the
    /// keyword a keyword-gated rule requires, like `okta`). Never empty.
    pub gate: &'static [&'static str],
    /// A Rust `regex` crate pattern (NO look-around, NO backreferences). When only part of the
    /// match is secret (keyword-gated rules), that part is the named group `v`; otherwise the
    /// whole match is the secret.
    pub pattern: &'static str,
    /// Where the format is documented (vendor docs page or scanner rule URL).
    pub doc: &'static str,
    /// A made-up example that the pattern matches (NOT a real secret; generate random
    /// characters of the right shape). Must not be a literal copied from a scanner's test file.
    pub example: &'static str,
}

pub const VENDOR_TOKENS: &[VendorToken] = &[
    // gitleaks `slack-app-token`; the 12-digit form is Nosey Parker `np.slack.5`.
    VendorToken {
        kind: "slack_app_token",
        gate: &["xapp-"],
        pattern: r"\bxapp-(?:[0-9]-[A-Za-z0-9]+-[0-9]+-[A-Za-z0-9]+|[0-9]{12}-[A-Za-z0-9/+]{24})",
        doc: "https://api.slack.com/authentication/token-types#app",
        example: "xapp-1-AUJZDE8GXD6-3016613186091-71c17149d439536b3216fdaeeb975729fae923d5a4fd12aabfe228f219e9cb0e",
    },
    // redact.rs's `slack_token` would take only the inner `xoxp-…`/`xoxb-…` and leave `xoxe.`.
    VendorToken {
        kind: "slack_config_access_token",
        gate: &["xoxe.xox"],
        pattern: r"\bxoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{163,166}",
        doc: "https://api.slack.com/authentication/config-tokens",
        example: "xoxe.xoxp-1-wkNhFdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu8iS2G8NPRVdD53X83RZJzzzzgEOzdmenCkhvMdgaKjIg8xNbe3nNyjOq9wMxEhh2FDEEtfjgVvVqE1SkHbn88HxjSI6bWHtP3fS2qHx6",
    },
    // `xoxe` is outside redact.rs's `xox[abposr]-`.
    VendorToken {
        kind: "slack_config_refresh_token",
        gate: &["xoxe-"],
        pattern: r"\bxoxe-[0-9]-[A-Za-z0-9]{146}",
        doc: "https://api.slack.com/authentication/config-tokens",
        example: "xoxe-1-kwXoIIXGvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9wCZ7Uw9xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUkkibjL5DZPjN0MEQ7wjJJibaZUPgHV7iB3m03nbqnsGpWLuqIA1",
    },
    // gitleaks `slack-user-token`, its `xoxe-` variant (not in redact.rs's `xox[abposr]-`).
    VendorToken {
        kind: "slack_xoxe_user_token",
        gate: &["xoxe-"],
        pattern: r"\bxoxe(?:-[0-9]{10,13}){3}-[A-Za-z0-9-]{28,34}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/slack.go",
        example: "xoxe-2057986828288-0729022279180-5888718033401-e02ea68ef786e4d3cea27d26934b484e",
    },
    // `response_url` webhooks; redact.rs's `slack_webhook` covers only services|workflows|triggers.
    VendorToken {
        kind: "slack_response_url",
        gate: &["hooks.slack.com/"],
        pattern: r"https://hooks\.slack\.com/(?:actions|commands|app)/[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+){1,3}",
        doc: "https://api.slack.com/interactivity/handling#message_responses",
        example: "https://hooks.slack.com/actions/TOGZ5KOK16Z/5635515058770/yvHNsG9eh6Yo4gfqrc5XlrWi",
    },
    VendorToken {
        kind: "facebook_page_access_token",
        gate: &["eaam", "eaac"],
        pattern: r"\bEAA[MC][A-Za-z0-9]{100,}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/facebook.go",
        example: "EAAM0B26R08qzjI6GKFSufrdZSlB5er8bOfZqfM2oeq3hDavJA76rNicHTp8hkqdlm7tOtHWnsCGRlrwZbqcabUGJmGEp7CgQ0PBQFI14zGtSnovm14TUOizwd1iaeOV4qBkdfQ1y3GQsMpS",
    },
    VendorToken {
        kind: "facebook_app_secret",
        gate: &["facebook"],
        pattern: r#"(?i)(?:\b|_)(?:facebook)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/facebook.go",
        example: "FACEBOOK_APP_SECRET = '91e558e08baa7196b50ac2f86702824c'",
    },
    // App access token `{app-id}|{app-secret}`, the pipe possibly URL-encoded.
    VendorToken {
        kind: "facebook_app_access_token",
        gate: &["facebook"],
        pattern: r#"(?i)(?:\b|_)(?:facebook)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9]{15,16}(?:\||%7C)[0-9a-z_-]{27,40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/facebook.go",
        example: "export FACEBOOK_ACCESS_TOKEN=060443198296572|sUNPjc01T5GOBUSZGi6HWGK10Zb0RLZ5",
    },
    VendorToken {
        kind: "okta_api_token",
        gate: &["okta"],
        pattern: r#"(?i)(?:\b|_)(?:okta)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>00[a-z0-9_=-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/okta.yml",
        example: "okta_api_token: 00fdfrUnW5gcF_Ha6ili8GjHEAD6-Wj9KfzjsQGMra",
    },
    // Okta's `Authorization: SSWS {token}` scheme.
    VendorToken {
        kind: "okta_api_token",
        gate: &["ssws"],
        pattern: r"(?i)\bSSWS\s+(?P<v>00[A-Za-z0-9_=-]{40})",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/okta.yml",
        example: "Authorization: SSWS 00d_ImB_LK777pzNk8cL6j5IXAAjlsHUqJoUD-_Ydk",
    },
    // gitleaks rule `snyk-api-token`.
    VendorToken {
        kind: "snyk_api_token",
        gate: &["snyk"],
        pattern: r#"(?i)(?:\b|_)(?:snyk[_.-]?(?:(?:api|oauth)[_.-]?)?(?:key|token))[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"SNYK_TOKEN="0fec94db-ca3a-40aa-b360-98b2cc2bd818""#,
    },
    // User (`squ_`), project analysis (`sqp_`) and global analysis (`sqa_`) tokens.
    VendorToken {
        kind: "sonarqube_token",
        gate: &["squ_", "sqp_", "sqa_"],
        pattern: r"\bsq[upa]_[A-Za-z0-9]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/sonar.go",
        example: "squ_19478da6bd0c621de49f145fda9988c79fc35526",
    },
    // Unprefixed (older) tokens, only next to `sonar.login` / `SONAR_TOKEN`.
    VendorToken {
        kind: "sonarqube_token",
        gate: &["sonar"],
        pattern: r#"(?i)(?:\b|_)(?:sonar[_.-]?(?:login|token))[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/sonar.go",
        example: r#"SONAR_LOGIN="f7eaed46725a2a7b860dcd6c8a1f8b46287cced9""#,
    },
    // gitleaks rule `sumologic-access-id`.
    VendorToken {
        kind: "sumologic_access_id",
        gate: &["sumo"],
        pattern: r#"(?i)(?:\b|_)(?:sumo)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>(?-i:su)[a-z0-9]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"SUMO_ACCESS_ID="suicBTW5ZE9LFa""#,
    },
    // gitleaks rule `sumologic-access-token`.
    VendorToken {
        kind: "sumologic_access_key",
        gate: &["sumo"],
        pattern: r#"(?i)(?:\b|_)(?:sumo)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"SUMO_ACCESS_KEY="z7770H2DCpYgojjHRg80USP2W5DfJXcaYioK6cPTt9iOqHOBSWhgetH8LmyqoYMa""#,
    },
    VendorToken {
        kind: "cloudflare_api_token",
        gate: &["cloudflare"],
        pattern: r#"(?i)(?:\b|_)(?:cloudflare)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9_-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/cloudflare.go",
        example: "export CLOUDFLARE_API_TOKEN=IM6JOF8EFd0Nhcy-1kGD2VD-eR1UYzaLiA-zNyDD",
    },
    VendorToken {
        kind: "cloudflare_global_api_key",
        gate: &["cloudflare"],
        pattern: r#"(?i)(?:\b|_)(?:cloudflare)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{37})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/cloudflare.go",
        example: r#"CLOUDFLARE_API_KEY="893f57fd14c1604d115cea325a65e19cbae53""#,
    },
    VendorToken {
        kind: "cloudflare_origin_ca_key",
        gate: &["v1.0-"],
        pattern: r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/cloudflare.go",
        example: "v1.0-282bd36cb9d21f6be6abf0d7-c1c1e21862ab8a18a8902073fec8df4f50947aaeb26c57d21fa5d328263dfe574de739988b886e7577496a2c8773e130f7eb19731662b5e803b61ba4168160adb59261ff2d3c425c8d",
    },
    // A bare UUID is usually an ID: `key`/`token` must follow `heroku` in the name.
    VendorToken {
        kind: "heroku_api_key",
        gate: &["heroku"],
        pattern: r#"(?i)(?:\b|_)(?:heroku)[ \tA-Za-z0-9_.-]{0,30}?(?:key|token)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/heroku.yml",
        example: "HEROKU_API_KEY = '99d19bdd-0b6c-4c60-b5d3-2cbe54014c2b'",
    },
    VendorToken {
        kind: "heroku_api_key",
        gate: &["hrku-aa"],
        pattern: r"\bHRKU-AA[0-9A-Za-z_-]{58}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/heroku.go",
        example: "HRKU-AAkjwskHk7egyFWZY9Zmti18c6EudM7Oyf5TNS05kOY2oNzN2m1ElKncz8Hk",
    },
    VendorToken {
        kind: "azure_ad_client_secret",
        gate: &["q~"],
        pattern: r#"(?:^|[\\'"\x60\s>=:(,)])(?P<v>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:$|[\\'"\x60\s<),])"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/azure.go",
        example: "ywh2Q~FyfePpX6N1NF2XV5.4wca_7E56w8ZniqT3",
    },
    VendorToken {
        kind: "clojars_api_token",
        gate: &["clojars_"],
        pattern: r"(?i)\bCLOJARS_[a-z0-9]{60}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/clojars.go",
        example: "CLOJARS_xf266ccifu6fd6yibehmi5skoewqkur3jq64nq6puxcmlzkruykqh7dx297g",
    },
    // Legacy API key (a UUID): `key`/`token`/`secret` in the name, so form GUIDs pass.
    VendorToken {
        kind: "hubspot_api_key",
        gate: &["hubspot"],
        pattern: r#"(?i)(?:\b|_)(?:hubspot)[ \tA-Za-z0-9_.-]{0,30}?(?:key|token|secret)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/hubspot.go",
        example: r#"HUBSPOT_API_KEY="8CB8CB4B-A2E7-4519-A9A0-1749DDB14F71""#,
    },
    VendorToken {
        kind: "hubspot_private_app_token",
        gate: &["pat-na1-", "pat-eu1-"],
        pattern: r"\bpat-(?:na|eu)1-[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}\b",
        doc: "https://github.com/trufflesecurity/trufflehog/blob/main/pkg/detectors/hubspot_apikey/v2/apikey.go",
        example: "pat-na1-10b93b7d-946b-4f54-874e-3248c801bef7",
    },
    // Unsecured JWT (`alg: none`), empty signature: redact.rs's `jwt` wants 8+ characters.
    VendorToken {
        kind: "jwt_unsigned",
        gate: &["eyj"],
        pattern: r"\b(?P<v>eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.)(?:[^A-Za-z0-9_-]|$)",
        doc: "https://datatracker.ietf.org/doc/html/rfc7519#section-6.1",
        example: "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIyMDAwODA2MiIsIm5hbWUiOiJoZmJ5ZGF0IiwiaWF0IjoxNzQ3ODg3MjU1fQ.",
    },
    // A JWT base64-encoded again (`ZXlK` = `eyJ`), header opening with alg, typ or kid.
    VendorToken {
        kind: "jwt_base64",
        gate: &["zxlk"],
        pattern: r"\bZXlK(?:aGJHY2lPaU|MGVYQWlPaU|cmFXUWlP)[A-Za-z0-9+/_-]{40,}={0,2}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/jwt.go",
        example: "ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5LmV5SnpkV0lpT2lBaU16STJNemc1T0RZNU1pSXNJQ0pwWVhRaU9pQXhOek0yTlRFNU9ETTFmUS5UeEJNb0F6LTQ3bkllcmVKQVdEWWI3N3BkeFM5cDNNc09mOGFRanVrQ1I4",
    },
    VendorToken {
        kind: "atlassian_api_token",
        gate: &["atatt3"],
        pattern: r"\bATATT3[A-Za-z0-9_=-]{186}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/atlassian.go",
        example: "ATATT3xFfGF0QHgI3HLBkbvHEzuPyXQEW88ad3DNBYjvsedonuSsddfrfifiUziXnFAAoeelK9mqmALOR2HcSGKgVP8Kd0d3mS8gBlKv3azKgaS_m_x-SHuKBD-vok_nPTmZYl2dVAMH2vWD6qeSPt5Pv74GDqQ7EyIMttFPSuEPyHnvnzXtsMM=D863386C",
    },
    // Older unprefixed 24-character tokens, only next to the product name.
    VendorToken {
        kind: "atlassian_api_token",
        gate: &["atlassian", "confluence", "jira"],
        pattern: r#"(?i)(?:\b|_)(?:atlassian|confluence|jira)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{20}[a-f0-9]{4})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/atlassian.go",
        example: "JIRA_API_TOKEN = 'Dcaz2YBSoGOsDbjqMVza7dd7'",
    },
    VendorToken {
        kind: "bitbucket_client_secret",
        gate: &["bitbucket"],
        pattern: r#"(?i)(?:\b|_)(?:bitbucket)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/bitbucket.go",
        example: "export BITBUCKET_CLIENT_SECRET=2oRlPhDBuqOSg5ApYzTTOkq2BEDbN2AHRQ73l5PuXay1F6gcqInkTY88mHwg2KDI",
    },
    VendorToken {
        kind: "bitbucket_app_password",
        gate: &["atbb"],
        pattern: r"\bATBB[A-Za-z0-9]{32}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/bitbucket.yml",
        example: "ATBBTEGbOY1xHvAV8DnRlzGW7hUNwOdqryzd",
    },
    VendorToken {
        kind: "digitalocean_pat",
        gate: &["dop_v1_"],
        pattern: r"\bdop_v1_[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/digitalocean.go",
        example: "dop_v1_02ddb8379c7ce65426f74bde94fb78c8d5f08b79affd2b49c12a4b0062983475",
    },
    VendorToken {
        kind: "digitalocean_oauth_token",
        gate: &["doo_v1_"],
        pattern: r"\bdoo_v1_[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/digitalocean.go",
        example: "doo_v1_eb46c5296f62e338d74ff1fe4f7f505aef9ebdd25b001a3ff416d4a3baf69dad",
    },
    VendorToken {
        kind: "digitalocean_refresh_token",
        gate: &["dor_v1_"],
        pattern: r"\bdor_v1_[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/digitalocean.go",
        example: "dor_v1_8199bfca8b6f3a6a9421cc1c93016f1c4261e5351d30b49895d1a0d1f13dce20",
    },
    VendorToken {
        kind: "discord_api_token",
        gate: &["discord"],
        pattern: r#"(?i)(?:\b|_)(?:discord)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/discord.go",
        example: "export DISCORD_API_TOKEN=c4fd32f640d0032634f087e51b429fe8110102c995f1abef543b5dfce8a981a0",
    },
    VendorToken {
        kind: "discord_client_secret",
        gate: &["discord"],
        pattern: r#"(?i)(?:\b|_)(?:discord)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/discord.go",
        example: "export DISCORD_CLIENT_SECRET=MN2FWXWD5KaPHI2ufKssJ-Sk_WzDNhYD",
    },
    // `POST /webhooks/{webhook.id}/{webhook.token}`: the URL carries the token.
    VendorToken {
        kind: "discord_webhook",
        gate: &["discord.com/api/", "discordapp.com/api/"],
        pattern: r"https://(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api(?:/v[0-9]+)?/webhooks/[0-9]+/[A-Za-z0-9_-]+",
        doc: "https://discord.com/developers/docs/resources/webhook#execute-webhook",
        example: "https://discord.com/api/webhooks/4906781851369848578/zyBylxLUTZtFf-VnV7ktOdSJcmeA_BHJ2m5qGeRzxWkdgeV6_iYplGODlYx5uVECweGT",
    },
    VendorToken {
        kind: "dropbox_api_secret",
        gate: &["dropbox"],
        pattern: r#"(?i)(?:\b|_)(?:dropbox)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{15})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/dropbox.go",
        example: r#"DROPBOX_APP_SECRET="d9bdq64dgjuamt2""#,
    },
    VendorToken {
        kind: "dropbox_long_lived_token",
        gate: &["dropbox"],
        pattern: r#"(?i)(?:\b|_)(?:dropbox)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{11}AAAAAAAAAA[a-z0-9_=-]{43})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/dropbox.go",
        example: "dropbox_token: EuxqyhxEykCAAAAAAAAAApsb7yeuCjVr5mXcj5RPD9oUsQChx5s4tI10FtdILQvq",
    },
    // gitleaks requires 135 characters after `sl.`; longer ones are accepted too.
    VendorToken {
        kind: "dropbox_short_lived_token",
        gate: &["dropbox"],
        pattern: r#"(?i)(?:\b|_)(?:dropbox)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>sl\.[a-z0-9_=.-]{135,})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/dropbox.go",
        example: "export DROPBOX_ACCESS_TOKEN=sl.gO69othB9KpGzU3HEEmXL1uhLsc4Rr4aKxU3f0BJxrxDwzkl-JwAryNzbi0hSQK-lb09rIFxUeuVaT5jpTFPWhLn-5drcFlCxvnNGdcmyHc7E4nSmwfIp7-JoppZrDDs7YvcX1eYgURz",
    },
    // Personal, CLI, service (`dp.st.[config.]`), service account, SCIM and audit tokens.
    VendorToken {
        kind: "doppler_token",
        gate: &["dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit."],
        pattern: r"\bdp\.(?:pt|ct|sa|scim|audit|st(?:\.[a-z0-9_-]{2,35})?)\.[A-Za-z0-9]{40,44}\b",
        doc: "https://docs.doppler.com/reference/auth-token-formats",
        example: "dp.pt.1vTB1KZ6u0z2JduHj9R7wp3BQOaxgHleuBmGQboiAzX",
    },
    VendorToken {
        kind: "dynatrace_api_token",
        gate: &["dt0c01."],
        pattern: r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/dynatrace.go",
        example: "dt0c01.3CCCRR8CGQH7A1PCSHTWKHD6.RF38J2H6IS0SRPF8S3OYM9X39T44TBPVOM68YZAWKPU9U5RSNSDBK9EW2D7Y2WG7",
    },
    VendorToken {
        kind: "fastly_api_token",
        gate: &["fastly"],
        pattern: r#"(?i)(?:\b|_)(?:fastly)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/fastly.go",
        example: "FASTLY_API_TOKEN = 'ot1RTrzJm8Iq0na0p-Yt1JoW56KTLTYH'",
    },
    VendorToken {
        kind: "flutterwave_secret_key",
        gate: &["flwseck_test-"],
        pattern: r"\bFLWSECK_TEST-[a-hA-H0-9]{32}-X\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/flutterwave.go",
        example: "FLWSECK_TEST-ca0fce9594dc72aa7a6d0018f99ddceb-X",
    },
    VendorToken {
        kind: "grafana_api_key",
        gate: &["eyjrijoi"],
        pattern: r"\beyJrIjoi[A-Za-z0-9]{70,400}={0,3}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/grafana.go",
        example: "eyJrIjoiY01Sd0M4YVJlSG9nQXhHelBKN0tqNG05QUZ6Q1hONUwiLCJuIjoia3dxeGNmbGsiLCJpZCI6NDd9",
    },
    VendorToken {
        kind: "grafana_cloud_token",
        gate: &["glc_"],
        pattern: r"\bglc_[A-Za-z0-9+/]{32,400}={0,3}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/grafana.go",
        example: "glc_eyJvIjogIjE0ODIxNCIsICJuIjogIndrcW51ZnFqcWciLCAiayI6ICJHNW1BbGRPS01nd0tPT1VjU0FhWWF0VFMiLCAibSI6IHsiciI6ICJ1cyJ9fQ==",
    },
    VendorToken {
        kind: "grafana_service_account_token",
        gate: &["glsa_"],
        pattern: r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/grafana.go",
        example: "glsa_Ja6tz1gLaQbmlFXJKr3P5IGjKmAMhjkH_30325fed",
    },
    VendorToken {
        kind: "terraform_api_token",
        gate: &["atlasv1"],
        pattern: r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/hashicorp.go",
        example: "ZZdPaRXLujTpwr.atlasv1.veImiSy5XcgCYf4gEFCfuwOa6M1G-iFXC0NZ_cFlwvTWxaLYUoQXQZip2SFXy7KSE3e",
    },
    VendorToken {
        kind: "vault_service_token",
        gate: &["hvs."],
        pattern: r"\bhvs\.[A-Za-z0-9_-]{90,120}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/hashicorp_vault.go",
        example: "hvs.CAESIJdRtEqlzIq47EuVTBZWAM8AD5qH4VFZBqplIXdsNbXlwDPyniUMyiNlCKqZKTZ7qJwdUS0d7FZTmxLoICfZfu3zMtW",
    },
    VendorToken {
        kind: "vault_batch_token",
        gate: &["hvb."],
        pattern: r"\bhvb\.[A-Za-z0-9_-]{138,300}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/hashicorp_vault.go",
        example: "hvb.AAAAAQfNwD-G3SaoKfgFoeOASl1YCJlS24R5gA2q_yfHwuEHFhvTS0lzNrr_9EEa4rSMrsEQp2vt7ZAoLbU_AfhJMzoN5ouP47ULvjfb7_kQHn_3_yPbTlKGFkrddYsLVxvnNPWxTODVrVGEhf",
    },
    // Vault >= 1.10 token prefixes hvs/hvb/hvr (Nosey Parker `np.hashicorp.6`).
    VendorToken {
        kind: "vault_recovery_token",
        gate: &["hvr."],
        pattern: r"\bhvr\.[A-Za-z0-9_-]{24,100}",
        doc: "https://developer.hashicorp.com/vault/docs/concepts/tokens",
        example: "hvr.gKZO60Tz5d8nFBFUktMLOfjSokiCOzfc2CEmnUxa",
    },
    VendorToken {
        kind: "linear_api_key",
        gate: &["lin_api_"],
        pattern: r"\blin_api_[A-Za-z0-9]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/linear.go",
        example: "lin_api_c1N21YGBjseQdGTA4veCaQ90l5UkysaCZKRwKmEf",
    },
    VendorToken {
        kind: "linear_client_secret",
        gate: &["linear"],
        pattern: r#"(?i)(?:\b|_)(?:linear)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/linear.go",
        example: "LINEAR_CLIENT_SECRET = 'aed4c21a9dbf49a067e24bdb7ec83756'",
    },
    VendorToken {
        kind: "newrelic_user_api_key",
        gate: &["nrak-"],
        pattern: r"(?i)\bNRAK-[A-Z0-9]{27}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "NRAK-HOQGM7Q5O93O8H6F0E2I696H6G3",
    },
    VendorToken {
        kind: "newrelic_admin_api_key",
        gate: &["nraa-"],
        pattern: r"(?i)\bNRAA-[a-f0-9]{27}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "NRAA-c56f24b1c71b106e934d263b5ba",
    },
    VendorToken {
        kind: "newrelic_insert_key",
        gate: &["nrii-"],
        pattern: r"(?i)\bNRII-[A-Z0-9_-]{32}",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "NRII-bGpEVT_fTmTPoeFGTy5c4oc_ojHxtLWs",
    },
    VendorToken {
        kind: "newrelic_query_key",
        gate: &["nriq-"],
        pattern: r"(?i)\bNRIQ-[A-Z0-9_-]{32}",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "NRIQ-GI4bdRt_9eejxY8u5YDjUQBNqfBvU7Q7",
    },
    VendorToken {
        kind: "newrelic_rest_api_key",
        gate: &["nrra-"],
        pattern: r"(?i)\bNRRA-[a-f0-9]{42}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "NRRA-cba0afa707e1448c828b4136d3b97429ab7bca1aaf",
    },
    VendorToken {
        kind: "newrelic_license_key",
        gate: &["nral"],
        pattern: r"(?i)\b[a-z0-9]{6}[a-f0-9]{30}NRAL\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "6xppwj460ecec9524998a26259bebd2fa588NRAL",
    },
    // gitleaks rule `new-relic-browser-api-token`.
    VendorToken {
        kind: "newrelic_browser_api_token",
        gate: &["nrjs-"],
        pattern: r"(?i)\bNRJS-[a-f0-9]{19}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "NRJS-0587061ce6936714122",
    },
    VendorToken {
        kind: "newrelic_pixie_api_key",
        gate: &["px-api-"],
        pattern: r"(?i)\bpx-api-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "px-api-a40680a0-6aa0-4fca-91d1-2afc8e00aa1d",
    },
    VendorToken {
        kind: "newrelic_pixie_deploy_key",
        gate: &["px-dep-"],
        pattern: r"(?i)\bpx-dep-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/newrelic.yml",
        example: "px-dep-a5204642-bbdb-44a7-af19-e8b8480f3b47",
    },
    // gitleaks rule `postman-api-token`.
    VendorToken {
        kind: "postman_api_token",
        gate: &["pmak-"],
        pattern: r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "PMAK-c20431658b4550b7ef6bce6a-0302cb17cdc70808d77b6ad89f65f84992",
    },
    // gitleaks rule `pulumi-api-token`.
    VendorToken {
        kind: "pulumi_api_token",
        gate: &["pul-"],
        pattern: r"\bpul-[a-f0-9]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "pul-a0f75ae616b1e5d490340494b35ec2daca176014",
    },
    // gitleaks rule `shopify-access-token`; also the custom and private app ones.
    VendorToken {
        kind: "shopify_access_token",
        gate: &["shpat_", "shpca_", "shppa_"],
        pattern: r"\bshp(?:at|ca|pa)_[a-fA-F0-9]{32}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    // gitleaks rule `shopify-shared-secret`.
    VendorToken {
        kind: "shopify_shared_secret",
        gate: &["shpss_"],
        pattern: r"\bshpss_[a-fA-F0-9]{32}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    // `EAAA…` from gitleaks `square-access-token`, `sq0atp-` from Nosey Parker `np.square.1`.
    VendorToken {
        kind: "square_access_token",
        gate: &["eaaa", "sq0atp-"],
        pattern: r"\b(?:EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22})",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/square.yml",
        example: "EAAAZP4O6a88RWEWTiYIPjCHH8S9CsiUAvUEwt6wfPWU2p0tGWnUTM5lJYL5o59w",
    },
    VendorToken {
        kind: "square_oauth_secret",
        gate: &["sq0csp-"],
        pattern: r"\bsq0csp-[A-Za-z0-9_-]{43}",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/square.yml",
        example: "sq0csp-taqU_EVRWGczaHhwNJPGEH4l-lzq2LVf4WUfL03GTEX",
    },
    // gitleaks rule `telegram-bot-api-token`.
    VendorToken {
        kind: "telegram_bot_token",
        gate: &["telegr"],
        pattern: r#"(?i)(?:\b|_)(?:telegr)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9]{5,16}:(?-i:A)[a-z0-9_-]{34})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"TELEGRAM_BOT_TOKEN="9293951351:AAf5WY1-dn77318wi4Y_rbDzZfLQX6plCjK""#,
    },
    // `https://api.telegram.org/bot<token>/METHOD_NAME`.
    VendorToken {
        kind: "telegram_bot_token",
        gate: &["api.telegram.org/"],
        pattern: r"(?i)api\.telegram\.org/(?:file/)?bot(?P<v>[0-9]{5,16}:(?-i:A)[a-z0-9_-]{34})",
        doc: "https://core.telegram.org/bots/api#making-requests",
        example: "https://api.telegram.org/bot1713970357:AAh1r0gsPQyaxJHlOXGMY1gNMFW3GNzqgAV/sendMessage",
    },
    // gitleaks rule `twitch-api-token`.
    VendorToken {
        kind: "twitch_api_token",
        gate: &["twitch"],
        pattern: r#"(?i)(?:\b|_)(?:twitch)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{30})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"TWITCH_CLIENT_SECRET="35jxvm39dua8e0ucro2smn3z2nndl1""#,
    },
    // gitleaks rule `twitter-bearer-token`.
    VendorToken {
        kind: "twitter_bearer_token",
        gate: &["twitter"],
        pattern: r#"(?i)(?:\b|_)(?:twitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>(?-i:A{22})[a-z0-9%]{80,100})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "twitter_bearer_token: AAAAAAAAAAAAAAAAAAAAAAdi34e0MFla7UJVZkFoRURVsZnI1kjX6TnHgDgmYf8dAoQ1qT5CRBj3d7Sick1CsWo3LZuTJUjt6quJ1nj8ZQ%oz%cua",
    },
    // gitleaks rule `twitter-access-token`.
    VendorToken {
        kind: "twitter_access_token",
        gate: &["twitter"],
        pattern: r#"(?i)(?:\b|_)(?:twitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9]{15,25}-[a-z0-9]{20,40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export TWITTER_ACCESS_TOKEN=2438137226561051388-esFwbWYF476fmFr3tMLIWfmiErX5W25",
    },
    // gitleaks rule `twitter-access-secret`.
    VendorToken {
        kind: "twitter_access_secret",
        gate: &["twitter"],
        pattern: r#"(?i)(?:\b|_)(?:twitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{45})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"TWITTER_ACCESS_TOKEN_SECRET="L7tcLMg9awm8jQtdlvwCEpvVxlhY1tZeUJDgVJhYkMzDc""#,
    },
    // gitleaks rule `twitter-api-key`.
    VendorToken {
        kind: "twitter_api_key",
        gate: &["twitter"],
        pattern: r#"(?i)(?:\b|_)(?:twitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{25})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "twitter_api_key: cGLgAPSiAK1wexUQUkxkQ8fva",
    },
    // gitleaks rule `twitter-api-secret`.
    VendorToken {
        kind: "twitter_api_secret",
        gate: &["twitter"],
        pattern: r#"(?i)(?:\b|_)(?:twitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{50})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export TWITTER_API_SECRET=tjqgg4phjFrIIhuDpkKIcGqx8mszJni6pU3IGp4gag8dFYYSKn",
    },
    VendorToken {
        kind: "adobe_client_secret",
        gate: &["p8e-"],
        pattern: r"\bp8e-[A-Za-z0-9]{32}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/adobe.go",
        example: "p8e-fWkj1qbBzNHhsK4hfQLnopMXYGT0d0pe",
    },
    VendorToken {
        kind: "alibaba_access_key_id",
        gate: &["ltai"],
        pattern: r"\bLTAI[A-Za-z0-9]{20}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/alibaba.go",
        example: "LTAIMvgcnNXSl0tvfZWDL6la",
    },
    VendorToken {
        kind: "alibaba_secret_key",
        gate: &["alibaba"],
        pattern: r#"(?i)(?:\b|_)(?:alibaba)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{30})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/alibaba.go",
        example: "alibaba_cloud_access_key_secret: u87AYAcfYpjUGRkjZwXinm7oRvTeaY",
    },
    VendorToken {
        kind: "age_secret_key",
        gate: &["age-secret-key-1"],
        pattern: r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/age.go",
        example: "AGE-SECRET-KEY-1ZL4YYVRH69K2LLGSNRA2MCN8YSW0VA0LREE4CE9W4MNQNLP8766NAF4D9K",
    },
    VendorToken {
        kind: "onepassword_service_account_token",
        gate: &["ops_eyj"],
        pattern: r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/1password.go",
        example: "ops_eyJzaWduSW5BZGRyZXNzIjogIm15LjFwYXNzd29yZC5jb20iLCAidXNlckF1dGgiOiB7Im1ldGhvZCI6ICJTUlBnLTQwOTYiLCAiYWxnIjogIlBCRVMyZy1IUzI1NiIsICJpdGVyYXRpb25zIjogNjUwMDAwLCAic2FsdCI6ICJ6MkROY3N2ZnJsUzRDQVFJWnBoblJPIn0sICJlbWFpbCI6ICJibWZtaWtlbGZobHRAbWpwa3F6dGcuMXBhc3N3b3Jkc2VydmljZWFjY291bnRzLmNvbSIsICJzcnBYIjogIjVjMDA1MzdlOGIzYzQ4ZDJhZTg5YjljMWZmYjAxM2NlOTRlMWFmNDA4NDYxYzU4NzkwZGQyY2ZiOGE1ZjFiNDYiLCAibXVrIjogeyJhbGciOiAiQTI1NkdDTSIsICJleHQiOiB0cnVlLCAiayI6ICJIWjRka3RWSGtSdDZkTHR5WDl4OVNscnQ1OEVtTnU3Q3pnUnF4enV5WTlFIn19",
    },
    VendorToken {
        kind: "onepassword_secret_key",
        gate: &["a3-"],
        pattern: r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/1password.go",
        example: "A3-RHN260-KUCJR8-490ER-ZXZ7S-HQ2AC-8TWXQ",
    },
    VendorToken {
        kind: "databricks_api_token",
        gate: &["dapi"],
        pattern: r"\bdapi[a-f0-9]{32}(?:-[0-9])?\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/databricks.go",
        example: "dapi723d39553ccaccfab54d946a2d207dc6",
    },
    VendorToken {
        kind: "mailgun_api_key",
        gate: &["mailgun"],
        pattern: r#"(?i)(?:\b|_)(?:mailgun)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>key-[a-f0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/mailgun.go",
        example: "MAILGUN_API_KEY = 'key-84477391c94c8286793b2b023a60e4e8'",
    },
    VendorToken {
        kind: "mailgun_signing_key",
        gate: &["mailgun"],
        pattern: r#"(?i)(?:\b|_)(?:mailgun)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/mailgun.go",
        example: r#"MAILGUN_WEBHOOK_SIGNING_KEY="1e11e3f79aa766907508db2823ccd71b-a82f4dee-6a63c596""#,
    },
    // gitleaks rule `sentry-org-token`.
    VendorToken {
        kind: "sentry_org_token",
        gate: &["sntrys_eyjpyxqio"],
        pattern: r"\bsntrys_eyJpYXQiO[A-Za-z0-9+/]{10,200}(?:LCJyZWdpb25fdXJs|InJlZ2lvbl91cmwi|cmVnaW9uX3VybCI6)[A-Za-z0-9+/]{10,200}={0,2}_[A-Za-z0-9+/]{43}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    // gitleaks rule `sentry-user-token`.
    VendorToken {
        kind: "sentry_user_token",
        gate: &["sntryu_"],
        pattern: r"\bsntryu_[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    // gitleaks rule `sentry-access-token`; old unprefixed format.
    VendorToken {
        kind: "sentry_access_token",
        gate: &["sentry"],
        pattern: r#"(?i)(?:\b|_)(?:sentry)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export SENTRY_AUTH_TOKEN=c7ff43fc2770c7173601e1c771d814e0f33545a3c0202219ec0605e636d32b32",
    },
    VendorToken {
        kind: "gitlab_pipeline_trigger_token",
        gate: &["glptt-"],
        pattern: r"\bglptt-[0-9a-f]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glptt-32b89994fa6022136ced620104d159e8489b0ac3",
    },
    VendorToken {
        kind: "gitlab_deploy_token",
        gate: &["gldt-"],
        pattern: r"\bgldt-[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "gldt-u4u8PJFb0cRDTQaERkun",
    },
    VendorToken {
        kind: "gitlab_runner_token",
        gate: &["glrt-"],
        pattern: r"\bglrt-(?:t[0-9]_)?[0-9A-Za-z_-]{20,300}(?:\.[0-9a-z]{9})?",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glrt-t1_eO2RUip6uBgF0lBBKbH3pw4vKYF.vqbfnqjee",
    },
    VendorToken {
        kind: "gitlab_runner_registration_token",
        gate: &["gr1348941"],
        pattern: r"\bGR1348941[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "GR1348941YMjiibjUjso-J5wmGMY0",
    },
    VendorToken {
        kind: "gitlab_cicd_job_token",
        gate: &["glcbt-"],
        pattern: r"\bglcbt-[0-9A-Za-z]{1,5}_[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glcbt-SS_w4m6RPAdXCnASQJbyjlu",
    },
    VendorToken {
        kind: "gitlab_feature_flag_client_token",
        gate: &["glffct-"],
        pattern: r"\bglffct-[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glffct-NHxfs9mhXGlChiLbIqTU",
    },
    VendorToken {
        kind: "gitlab_feed_token",
        gate: &["glft-"],
        pattern: r"\bglft-[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glft-wrVGVUvoFvKWdCyCXUE8",
    },
    VendorToken {
        kind: "gitlab_incoming_mail_token",
        gate: &["glimt-"],
        pattern: r"\bglimt-[0-9A-Za-z_-]{25}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glimt-HagmWVEKd84_oo6_lZp_9wD24",
    },
    VendorToken {
        kind: "gitlab_agent_token",
        gate: &["glagent-"],
        pattern: r"\bglagent-[0-9A-Za-z_-]{50}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glagent-hpyiIU48ERhjC9BWoh3hEvOBmk9H76qj5OmAJUip89Gxbd8eD-",
    },
    VendorToken {
        kind: "gitlab_oauth_app_secret",
        gate: &["gloas-"],
        pattern: r"\bgloas-[0-9A-Za-z_-]{64}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "gloas-rUsXPfVxDc6k5BeK4ryMOziZdvbU9Di9V_BBy8zN6ICPe0wR0cVuEatH68XrHEpJ",
    },
    VendorToken {
        kind: "gitlab_scim_token",
        gate: &["glsoat-"],
        pattern: r"\bglsoat-[0-9A-Za-z_-]{20}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "glsoat-1trrPhvD2vk50GCtI0mg",
    },
    VendorToken {
        kind: "gitlab_session_cookie",
        gate: &["_gitlab_session="],
        pattern: r"_gitlab_session=(?P<v>[0-9a-z]{32})",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/gitlab.go",
        example: "Cookie: _gitlab_session=1gbsesli0e7yt6h2p57x79m1eqylqp0x",
    },
    VendorToken {
        kind: "huggingface_access_token",
        gate: &["hf_"],
        pattern: r"\bhf_[A-Za-z]{34}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/huggingface.go",
        example: "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",
    },
    VendorToken {
        kind: "huggingface_org_token",
        gate: &["api_org_"],
        pattern: r"\bapi_org_[A-Za-z]{34}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/huggingface.go",
        example: "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",
    },
    VendorToken {
        kind: "confluent_api_key",
        gate: &["confluent"],
        pattern: r#"(?i)(?:\b|_)(?:confluent)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{16})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/confluent.go",
        example: r#""confluent_cloud_api_key": "1UL4BKZXHS9NPMXT","#,
    },
    VendorToken {
        kind: "confluent_api_secret",
        gate: &["confluent"],
        pattern: r#"(?i)(?:\b|_)(?:confluent)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/confluent.go",
        example: r#""confluent_cloud_api_secret": "k0eMD2Q4XLcm5aMIAUJrbeZa1lfSpalolq5TYpbbhf7fmjEveHwusAVE3qvd7fqk","#,
    },
    VendorToken {
        kind: "contentful_delivery_token",
        gate: &["contentful"],
        pattern: r#"(?i)(?:\b|_)(?:contentful)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{43})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/contentful.go",
        example: r#"CONTENTFUL_DELIVERY_TOKEN="figHqQR_sygt2XLcDNj8mity57Dl83rbyBn6EH2Qhdo""#,
    },
    VendorToken {
        kind: "contentful_personal_access_token",
        gate: &["cfpat-"],
        pattern: r"\bCFPAT-[A-Za-z0-9_-]{43}",
        doc: "https://github.com/trufflesecurity/trufflehog/blob/main/pkg/detectors/contentfulpersonalaccesstoken/contentfulpersonalaccesstoken.go",
        example: "CFPAT-CLB6yxANHquhC7RNYONhOlLgPEtwF7dzPpU8NjniX39",
    },
    VendorToken {
        kind: "airtable_api_key",
        gate: &["airtable"],
        pattern: r#"(?i)(?:\b|_)(?:airtable)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{17})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/airtable.go",
        example: r#""airtable_api_key": "keyeqZQGoCu2E8TAX","#,
    },
    VendorToken {
        kind: "airtable_personal_access_token",
        gate: &["pat"],
        pattern: r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/airtable.go",
        example: "patICX7U7uNdgXDfO.84142e192ad24c3119432a5d575cdab37e328cf759ec646f3a708f4aa5a6d107",
    },
    VendorToken {
        kind: "notion_token",
        gate: &["ntn_"],
        pattern: r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/notion.go",
        example: "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",
    },
    // Internal integration tokens before the `ntn_` prefix.
    VendorToken {
        kind: "notion_token",
        gate: &["secret_"],
        pattern: r"\bsecret_[A-Za-z0-9]{43}\b",
        doc: "https://github.com/trufflesecurity/trufflehog/blob/main/pkg/detectors/notion/v1/notion.go",
        example: "secret_tqGPuyB1tipITvQ0dw52l2u4Xi289V3RIP6dY31JD8v",
    },
    // gitleaks rule `plaid-api-token`; the prefix is specific enough to need no `plaid` keyword.
    VendorToken {
        kind: "plaid_access_token",
        gate: &["access-sandbox-", "access-development-", "access-production-"],
        pattern: r"\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "access-production-fe6ab723-3a00-47b2-8f16-ec9fc9fab9b3",
    },
    // gitleaks rule `plaid-secret-key`.
    VendorToken {
        kind: "plaid_secret",
        gate: &["plaid"],
        pattern: r#"(?i)(?:\b|_)(?:plaid)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{30})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "plaid_secret: 7e420aonnx8xhc31bi1fl7s6wgodox",
    },
    // gitleaks rule `planetscale-api-token`; also `-password`, `-oauth-token`.
    VendorToken {
        kind: "planetscale_token",
        gate: &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
        pattern: r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "pscale_pw_uWj1zPMQx_bsWvxcoUghAcB7tBst4d2rHJD1B7glaRv",
    },
    // gitleaks rule `prefect-api-token`.
    VendorToken {
        kind: "prefect_api_token",
        gate: &["pnu_"],
        pattern: r"\bpnu_[A-Za-z0-9]{36}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "pnu_VYpIqoH0loMl53mLUUhVDTMTnr11B7GdF8aC",
    },
    // gitleaks rule `readme-api-token`.
    VendorToken {
        kind: "readme_api_token",
        gate: &["rdme_"],
        pattern: r"\brdme_[a-z0-9]{70}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "rdme_fe90ju3kn8v0pmok0w1ttkn2fjmuh6sl04254r47m46j6koewyezgw1vwzj39ac4w6z1tk",
    },
    // gitleaks rule `rubygems-api-token`.
    VendorToken {
        kind: "rubygems_api_token",
        gate: &["rubygems_"],
        pattern: r"\brubygems_[a-f0-9]{48}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "rubygems_04bca7a5c59340afef8b0baf3a8c80bc2b08a9f5c0266144",
    },
    // gitleaks rule `scalingo-api-token`.
    VendorToken {
        kind: "scalingo_api_token",
        gate: &["tk-us-"],
        pattern: r"\btk-us-[A-Za-z0-9_-]{48}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "tk-us-NDCh3Hpnslt3yf-X2lwqMekhupecPvo7unxzTzUp3PY0G5D9",
    },
    // gitleaks rule `sendinblue-api-token`; Brevo API keys.
    VendorToken {
        kind: "sendinblue_api_token",
        gate: &["xkeysib-"],
        pattern: r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    // gitleaks rule `shippo-api-token`.
    VendorToken {
        kind: "shippo_api_token",
        gate: &["shippo_"],
        pattern: r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "shippo_live_288b6d8eacf314914bc781ef02216ef29a54358a",
    },
    // gitleaks rule `travisci-access-token`.
    VendorToken {
        kind: "travisci_access_token",
        gate: &["travis"],
        pattern: r#"(?i)(?:\b|_)(?:travis)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{22})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "TRAVIS_API_TOKEN = 'kk67oE2Yoqq6dok6NtXeOy'",
    },
    // gitleaks rule `typeform-api-token`.
    VendorToken {
        kind: "typeform_api_token",
        gate: &["typeform"],
        pattern: r#"(?i)(?:\b|_)(?:typeform)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>tfp_[a-z0-9_.=-]{59})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export TYPEFORM_TOKEN=tfp_N29CngA6EZuRdVyoPDE0H9m7qkHRhJuz4k6i5EEF7rKxgJFW_Lvkv4gxy9h",
    },
    // gitleaks rule `yandex-access-token`.
    VendorToken {
        kind: "yandex_access_token",
        gate: &["yandex"],
        pattern: r#"(?i)(?:\b|_)(?:yandex)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>t1\.[a-z0-9_-]+={0,2}\.[a-z0-9_-]{86}={0,2})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""yandex_oauth_token": "t1.FLs9vyKJluXbunDh9sDOxKX88RSxE87OmI93QQlxmMmtsTpTLeAanJenGGQh.WEoKmyaIg2lJOb1SxbzwCnApIPXZdi2oIs2Ucdg2XuVUrTVGsuuttopuNm-07bhE2rEaETEl9X2Q8fCg5Eexze","#,
    },
    // gitleaks rule `yandex-api-key`.
    VendorToken {
        kind: "yandex_api_key",
        gate: &["yandex"],
        pattern: r#"(?i)(?:\b|_)(?:yandex)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>AQVN[a-z0-9_-]{35,38})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "yandex_api_key: AQVNfQlRk2Nj5FtwN3Pn2vf-puhKfQgnyZvDA3HQ",
    },
    // gitleaks rule `yandex-aws-access-token`.
    VendorToken {
        kind: "yandex_aws_access_token",
        gate: &["yandex"],
        pattern: r#"(?i)(?:\b|_)(?:yandex)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>YC[a-z0-9_-]{38})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "YANDEX_SECRET_KEY = 'YCfE7aCYmz0lKUQFIQCeZ13itkjhyHmW_Gym-5Le'",
    },
    // gitleaks rule `zendesk-secret-key`.
    VendorToken {
        kind: "zendesk_secret_key",
        gate: &["zendesk"],
        pattern: r#"(?i)(?:\b|_)(?:zendesk)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""zendesk_api_token": "05EijeEBiQRbSlLUcYTYZehZupdoL8UrwkS1xAT0","#,
    },
    VendorToken {
        kind: "artifactory_api_key",
        gate: &["akcp"],
        pattern: r"\bAKCp[A-Za-z0-9]{69}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/artifactory.go",
        example: "AKCpkCClaifIUB3pO6jQ3qThhZyfQoajc3wf3tLu26VYJ37LC9PY81KImtHnEUvixwGJLoNrQ",
    },
    VendorToken {
        kind: "artifactory_reference_token",
        gate: &["cmvmd"],
        pattern: r"\bcmVmd[A-Za-z0-9]{59}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/artifactory.go",
        example: "cmVmdGiGbABQMlcIsrhXOTCXxHEpT73GIyIssz1Tc0qEuURnUC3wTtDxfWxUPn0o",
    },
    VendorToken {
        kind: "authress_access_key",
        gate: &["sc_", "ext_", "scauth_", "authress_"],
        pattern: r"\b(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_-][A-Za-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/authress.go",
        example: "sc_1qxbr9dvx0c1.7tovv.acc_4gl5gxmr5civ02s0jujl.Tkwrd7R2pvc2l5dBBmjXYxGhh5rCGzMqbzylyYaVxhWuviRcNTmnbLRKNosg",
    },
    VendorToken {
        kind: "clickhouse_cloud_api_secret",
        gate: &["4b1d"],
        pattern: r"\b4b1d[A-Za-z0-9]{38}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/clickhouse.go",
        example: "4b1dmT226poELXK4uhcKuHP2MfGDhpnCtA6xa5ohvz",
    },
    VendorToken {
        kind: "defined_networking_api_token",
        gate: &["dnkey-"],
        pattern: r"\bdnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/definednetworking.go",
        example: "dnkey-pP2BpvLpyOcHYJZtrEXTEDadQy-DoMNlXM1EJ9ykZ9gqWWVC84ftD3nSaef5flxaBAGDs6SwHxTkgGH",
    },
    VendorToken {
        kind: "docker_hub_pat",
        gate: &["dckr_pat_"],
        pattern: r"\bdckr_pat_[A-Za-z0-9_-]{27}",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/dockerhub.yml",
        example: "dckr_pat_-oVLACXTQJKkVoUPrQoRu1cUCZa",
    },
    VendorToken {
        kind: "cratesio_api_token",
        gate: &["cio"],
        pattern: r"\bcio[A-Za-z0-9]{32}\b",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/crates.io.yml",
        example: "ciokQmQICxzqolYTDk16x0Udbyo49uRzRcF",
    },
    VendorToken {
        kind: "duffel_api_token",
        gate: &["duffel_"],
        pattern: r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/duffel.go",
        example: "duffel_live_8zwiwxHrvOLr9orJNMzC4OqU-5vhnkesIiwccD4l6Ex",
    },
    VendorToken {
        kind: "easypost_api_token",
        gate: &["ezak", "eztk"],
        pattern: r"\bEZ[AT]K[A-Za-z0-9]{54}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/easypost.go",
        example: "EZAKmu5OvMbivxe6ebNUhdkSsQrt6V5f3n9CMYrJ7aZdUsotf87QJENM34",
    },
    VendorToken {
        kind: "flyio_access_token",
        gate: &["fo1_", "fm1", "fm2_"],
        pattern: r"\b(?:fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3})",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/flyio.go",
        example: "fm2_JGGzinZgyc501DLw9DhHRb701II/IrFOZQs5GDdw9MpedoJZgHwGn8DEvszgtVtmNShYf7vpqO5nKIbDJ2zrL3j4gTXJ8jKnuD9aks/mGENGWaIfe0hgl5TXN1BvzgDfzE1By9QjjY2ZkKDlILPGK0qs3BjJ+K1v",
    },
    VendorToken {
        kind: "frameio_api_token",
        gate: &["fio-u-"],
        pattern: r"\bfio-u-[A-Za-z0-9_=-]{64}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/frameio.go",
        example: "fio-u-733ymt0wtOC3XJtmxyu8y4_mcz4en3BNDwSVn9iuNtGmhgzFAkGGlH_xGaM7CVF0",
    },
    VendorToken {
        kind: "harness_api_key",
        gate: &["pat.", "sat."],
        pattern: r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/harness.go",
        example: "pat.oCboQn5_cCASeOX0YCN1j4.RBLXH1WErl0A550AnQdJnD8K.5pJG3hfRx54BaaqOFOk1",
    },
    VendorToken {
        kind: "infracost_api_token",
        gate: &["ico-"],
        pattern: r"\bico-[A-Za-z0-9]{32}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/infracost.go",
        example: "ico-mE0i3tBTOU7njPzQaQsbyCUuHMoveidQ",
    },
    VendorToken {
        kind: "intra42_client_secret",
        gate: &["s-s4t2ud-", "s-s4t2af-"],
        pattern: r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/intra42.go",
        example: "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",
    },
    VendorToken {
        kind: "maxmind_license_key",
        gate: &["_mmk"],
        pattern: r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/cmd/generate/config/rules/maxmind.go",
        example: "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",
    },
    // gitleaks rule `microsoft-teams-webhook`.
    VendorToken {
        kind: "microsoft_teams_webhook",
        gate: &["webhook.office.com"],
        pattern: r"https://[a-z0-9]+\.webhook\.office\.com/webhookb2/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/IncomingWebhook/[a-z0-9]{32}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "https://vnjtbdd.webhook.office.com/webhookb2/d268f95d-09ea-4982-8fa7-b3a99b7d87de@86440285-b86c-4e53-a35f-d16ccd6b9ccc/IncomingWebhook/6c4ae12725b8efa9b555246fa3447a99/286c0d7c-e0ec-4037-b870-3ed27e961b13",
    },
    // gitleaks rule `octopus-deploy-api-key`.
    VendorToken {
        kind: "octopus_deploy_api_key",
        gate: &["api-"],
        pattern: r"\bAPI-[A-Z0-9]{26}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "API-B59JZJ83RWZKMFV1MSUD6X6GCV",
    },
    // gitleaks rule `openshift-user-token`.
    VendorToken {
        kind: "openshift_user_token",
        gate: &["sha256~"],
        pattern: r"\bsha256~[A-Za-z0-9_-]{43}",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "sha256~GHJ35577OowoFqArA-QyQ59fwhw5ji5dc90l0Drg0ER",
    },
    // gitleaks rule `perplexity-api-key`.
    VendorToken {
        kind: "perplexity_api_key",
        gate: &["pplx-"],
        pattern: r"\bpplx-[A-Za-z0-9]{48}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "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",
    },
    VendorToken {
        kind: "salesforce_access_token",
        gate: &["!"],
        pattern: r"\b00[A-Za-z0-9]{13}![A-Za-z0-9._]{96}",
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/salesforce.yml",
        example: "00DIHygFgzQgFUB!do8Mf1Ja8FS7WnLgQNEZd36s9MfLbsPhFdvHEWCPsmF4XSt5wKVcI_gpuaYiPQjtWrMfp6s.pBtNDagHmx4PqxOYs5JGxrVx",
    },
    // gitleaks rule `settlemint-personal-access-token`; also application and service tokens.
    VendorToken {
        kind: "settlemint_token",
        gate: &["sm_aat_", "sm_pat_", "sm_sat_"],
        pattern: r"\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "sm_pat_4jpSSbR3hmXtXatu",
    },
    // gitleaks rule `sourcegraph-access-token`; without its bare 40-hex alternative.
    VendorToken {
        kind: "sourcegraph_access_token",
        gate: &["sgp_"],
        pattern: r"\bsgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}\b",
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "sgp_39e5e32bc556202c_247e1de30ca67dbeb4c29d9936dae96f9c23e2ed",
    },
    // gitleaks rule `adafruit-api-key`.
    VendorToken {
        kind: "adafruit_api_key",
        gate: &["adafruit"],
        pattern: r#"(?i)(?:\b|_)(?:adafruit)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9_-]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "adafruit_io_key: qFqzgoGSXPkGBmaE4y1195vyPhJOUVf7",
    },
    // gitleaks rule `algolia-api-key`.
    VendorToken {
        kind: "algolia_api_key",
        gate: &["algolia"],
        pattern: r#"(?i)(?:\b|_)(?:algolia)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "algolia_admin_api_key: jt06isu23s4ilq6b0br85xn1b30mffot",
    },
    // gitleaks rule `asana-client-secret`.
    VendorToken {
        kind: "asana_client_secret",
        gate: &["asana"],
        pattern: r#"(?i)(?:\b|_)(?:asana)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"ASANA_CLIENT_SECRET="m0x31xygoet7h20w0kp681vqyu52c56n""#,
    },
    // gitleaks rule `beamer-api-token`.
    VendorToken {
        kind: "beamer_api_token",
        gate: &["beamer"],
        pattern: r#"(?i)(?:\b|_)(?:beamer)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>b_[a-z0-9=_-]{44})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "beamer_api_key: b_0uhSMkBE-M40jfiwAlWtMUisP2Cpfk_PeZJV5DIx7xu0",
    },
    // gitleaks rule `bittrex-secret-key`.
    VendorToken {
        kind: "bittrex_key",
        gate: &["bittrex"],
        pattern: r#"(?i)(?:\b|_)(?:bittrex)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "bittrex_api_secret: wiz9emtxr8pg9vyouaa21xt5ootnw94w",
    },
    // gitleaks rule `cisco-meraki-api-key`.
    VendorToken {
        kind: "cisco_meraki_api_key",
        gate: &["meraki"],
        pattern: r#"(?i)(?:\b|_)(?:meraki)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"MERAKI_DASHBOARD_API_KEY="200caf6d6f1f6af0894e69f569ca039b645d93b4""#,
    },
    // gitleaks rule `codecov-access-token`.
    VendorToken {
        kind: "codecov_access_token",
        gate: &["codecov"],
        pattern: r#"(?i)(?:\b|_)(?:codecov)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "CODECOV_TOKEN = 'tq60r3s9vqaovoum1qvbtsa6rinxhxvh'",
    },
    // gitleaks rule `cohere-api-token`.
    VendorToken {
        kind: "cohere_api_token",
        gate: &["cohere", "co_api_key"],
        pattern: r#"(?i)(?:\b|_)(?:cohere|co_api_key)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"CO_API_KEY="lBqfL7CFtxHHX0UcvA6NYqJlEFv6ip4qMSgp7p4p""#,
    },
    // gitleaks rule `coinbase-access-token`.
    VendorToken {
        kind: "coinbase_access_token",
        gate: &["coinbase"],
        pattern: r#"(?i)(?:\b|_)(?:coinbase)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9_-]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "COINBASE_ACCESS_TOKEN = 'mEq-S-VhyD28yfRfkJSp_twmtWqMBQ8k9RYASc__zzp6CmRtnyOUk0nfMX78IRM0'",
    },
    // gitleaks rule `droneci-access-token`.
    VendorToken {
        kind: "droneci_access_token",
        gate: &["droneci"],
        pattern: r#"(?i)(?:\b|_)(?:droneci)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "DRONECI_TOKEN = '1bmFlfn2wRLBmU8e9QfHT2UcMibH7FC8'",
    },
    // gitleaks rule `etsy-access-token`.
    VendorToken {
        kind: "etsy_access_token",
        gate: &["etsy"],
        pattern: r#"(?i)(?:\b|_)(?:etsy)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{24})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "ETSY_API_KEY = 'qrb0r7cri3nnpjbri50xa10d'",
    },
    // gitleaks rule `finicity-api-token`.
    VendorToken {
        kind: "finicity_api_token",
        gate: &["finicity"],
        pattern: r#"(?i)(?:\b|_)(?:finicity)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export FINICITY_APP_KEY=3f1c4ff54c4d88273eb356402a7a731d",
    },
    // gitleaks rule `finicity-client-secret`.
    VendorToken {
        kind: "finicity_client_secret",
        gate: &["finicity"],
        pattern: r#"(?i)(?:\b|_)(?:finicity)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{20})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "FINICITY_SECRET = 'cf6EE34QS4UnWAtWUOnj'",
    },
    // gitleaks rule `finnhub-access-token`.
    VendorToken {
        kind: "finnhub_access_token",
        gate: &["finnhub"],
        pattern: r#"(?i)(?:\b|_)(?:finnhub)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{20})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "FINNHUB_API_KEY = '34kcw9nvhn2ghv779jdr'",
    },
    // gitleaks rule `flickr-access-token`.
    VendorToken {
        kind: "flickr_access_token",
        gate: &["flickr"],
        pattern: r#"(?i)(?:\b|_)(?:flickr)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"FLICKR_API_SECRET="a50div10e1p97x7zj1qxtf2buhz52lhx""#,
    },
    // gitleaks rule `freshbooks-access-token`.
    VendorToken {
        kind: "freshbooks_access_token",
        gate: &["freshbooks"],
        pattern: r#"(?i)(?:\b|_)(?:freshbooks)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "FRESHBOOKS_ACCESS_TOKEN = 'pajds3udpp2q42yholxhw3jd1ne24iga00p6ho2vnuf2l7veubhq0l6vc2hu9nkt'",
    },
    // gitleaks rule `gitter-access-token`.
    VendorToken {
        kind: "gitter_access_token",
        gate: &["gitter"],
        pattern: r#"(?i)(?:\b|_)(?:gitter)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9_-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "GITTER_TOKEN = 'j6rqr2jsq2nkm2invlztz4zjxd1ql7vnyriix367'",
    },
    // gitleaks rule `gocardless-api-token`.
    VendorToken {
        kind: "gocardless_api_token",
        gate: &["gocardless"],
        pattern: r#"(?i)(?:\b|_)(?:gocardless)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>live_[a-z0-9_=-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "GOCARDLESS_ACCESS_TOKEN = 'live_nrwRHa3xiHlBnL-PFLJSgofcvHk3yE_R6fNGpYTY'",
    },
    // gitleaks rule `intercom-api-key`.
    VendorToken {
        kind: "intercom_api_key",
        gate: &["intercom"],
        pattern: r#"(?i)(?:\b|_)(?:intercom)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{60})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export INTERCOM_ACCESS_TOKEN=tmzPKJIlDfkWSx3RIFvLwowdEV8r17vfVlcOsdhxqMLn-u0tLOwr5v5ZxqMy",
    },
    // gitleaks rule `jfrog-api-key`.
    VendorToken {
        kind: "jfrog_api_key",
        gate: &["jfrog", "artifactory", "bintray", "xray"],
        pattern: r#"(?i)(?:\b|_)(?:jfrog|artifactory|bintray|xray)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{73})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "JFROG_API_KEY = 'JuJpzxZYfHvM7D3V6gWWIJYOK3hKqNgj4vu3AbIgglT7YAY84qudjVWrShxwvPj71DDPZcvtu'",
    },
    // gitleaks rule `jfrog-identity-token`.
    VendorToken {
        kind: "jfrog_identity_token",
        gate: &["jfrog", "artifactory", "bintray", "xray"],
        pattern: r#"(?i)(?:\b|_)(?:jfrog|artifactory|bintray|xray)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{64})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export ARTIFACTORY_IDENTITY_TOKEN=gVu4dwTSHzR3wWJJLxCri4eZ3tOfSmQ9BccZ7HsJ6IlA6JIfi6pgRi9RCPNZ1Sa7",
    },
    // gitleaks rule `kraken-access-token`.
    VendorToken {
        kind: "kraken_access_token",
        gate: &["kraken"],
        pattern: r#"(?i)(?:\b|_)(?:kraken)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9/=_+-]{80,90})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "kraken_private_key: dCbEtWtuY9JaDOM/eU3q5qQa/tbR9YVd+fp8jlZPDH5k44NS/B3j0pSq2AECECRcZJKhb1MXMv867KZfm7Pxd2",
    },
    // gitleaks rule `kucoin-access-token`.
    VendorToken {
        kind: "kucoin_access_token",
        gate: &["kucoin"],
        pattern: r#"(?i)(?:\b|_)(?:kucoin)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{24})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""kucoin_api_key": "578b3a0bbc3aaa94502ea730","#,
    },
    // gitleaks rule `launchdarkly-access-token`.
    VendorToken {
        kind: "launchdarkly_access_token",
        gate: &["launchdarkly"],
        pattern: r#"(?i)(?:\b|_)(?:launchdarkly)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""launchdarkly_access_token": "n0HQGdjHUjWGcS1dLGcVghE6mRjGSmsj65EwJR8Q","#,
    },
    // gitleaks rule `linkedin-client-secret`.
    VendorToken {
        kind: "linkedin_client_secret",
        gate: &["linkedin", "linked_in", "linked-in"],
        pattern: r#"(?i)(?:\b|_)(?:linked[_-]?in)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{16})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "linkedin_client_secret: ANJK20mf2bII2Kdj",
    },
    // gitleaks rule `lob-api-key`.
    VendorToken {
        kind: "lob_api_key",
        gate: &["lob"],
        pattern: r#"(?i)(?:\b|_)(?:lob)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>(?:live|test)_[a-f0-9]{35})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""lob_api_key": "live_a5dd9d602448e500ba01d8773e6273773e3","#,
    },
    // gitleaks rule `mattermost-access-token`.
    VendorToken {
        kind: "mattermost_access_token",
        gate: &["mattermost"],
        pattern: r#"(?i)(?:\b|_)(?:mattermost)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{26})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "mattermost_token: 1u4kz4kuy2l8gg295gepxif044",
    },
    // gitleaks rule `messagebird-api-token`.
    VendorToken {
        kind: "messagebird_api_token",
        gate: &["messagebird", "message_bird", "message-bird"],
        pattern: r#"(?i)(?:\b|_)(?:message[_-]?bird)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{25})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export MESSAGEBIRD_API_KEY=RiN3BFl7DsJg5M5JkvxoMO0Vp",
    },
    // gitleaks rule `netlify-access-token`.
    VendorToken {
        kind: "netlify_access_token",
        gate: &["netlify"],
        pattern: r#"(?i)(?:\b|_)(?:netlify)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{40,46})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "netlify_auth_token: CY-3sADSQijNp8x77aZje3ydqzS0PATyHzaFPheMbnb",
    },
    // gitleaks rule `nytimes-access-token`.
    VendorToken {
        kind: "nytimes_access_token",
        gate: &["nytimes", "new-york-times", "newyorktimes"],
        pattern: r#"(?i)(?:\b|_)(?:nytimes|new-york-times|newyorktimes)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9=_-]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "nytimes_api_key: H1AVCw16b6OVNSCjLck11RTODuKrX63I",
    },
    // gitleaks rule `privateai-api-token`.
    VendorToken {
        kind: "privateai_api_token",
        gate: &["privateai", "private_ai", "private-ai"],
        pattern: r#"(?i)(?:\b|_)(?:private[_-]?ai)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9]{32})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#"PRIVATE_AI_API_KEY="bsvwbee2a70h4fhrayf87pzohua70k7a""#,
    },
    // gitleaks rule `rapidapi-access-token`.
    VendorToken {
        kind: "rapidapi_access_token",
        gate: &["rapidapi"],
        pattern: r#"(?i)(?:\b|_)(?:rapidapi)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-z0-9_-]{50})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "RAPIDAPI_KEY = 'lWooluvz3dwBQiG0FmStHaXmvAnVCS74otc2vVyKoA7Kyefggt'",
    },
    // gitleaks rule `sendbird-access-token`.
    VendorToken {
        kind: "sendbird_access_token",
        gate: &["sendbird"],
        pattern: r#"(?i)(?:\b|_)(?:sendbird)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[a-f0-9]{40})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: r#""sendbird_api_token": "3f1216147dc78b4ae5e8e1967f9b04237405f508","#,
    },
    // gitleaks rule `kucoin-secret-key`; a UUID: `key`/`token`/`secret` must be in the name.
    VendorToken {
        kind: "kucoin_secret_key",
        gate: &["kucoin"],
        pattern: r#"(?i)(?:\b|_)(?:kucoin)[ \tA-Za-z0-9_.-]{0,30}?(?:key|token|secret)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "KUCOIN_API_SECRET = 'c6f087a4-d8ba-4a40-af07-2fe6f43e30a5'",
    },
    // gitleaks rule `squarespace-access-token`; a UUID: `key`/`token`/`secret` must be in the name.
    VendorToken {
        kind: "squarespace_access_token",
        gate: &["squarespace"],
        pattern: r#"(?i)(?:\b|_)(?:squarespace)[ \tA-Za-z0-9_.-]{0,30}?(?:key|token|secret)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        example: "export SQUARESPACE_API_KEY=6c206923-5eb3-46c8-98c3-d78cd3d55484",
    },
    // A UUID, like Postmark message IDs: `key`/`token`/`secret` required in the name.
    VendorToken {
        kind: "postmark_api_token",
        gate: &["postmark"],
        pattern: r#"(?i)(?:\b|_)(?:postmark)[ \tA-Za-z0-9_.-]{0,30}?(?:key|token|secret)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/postmark.yml",
        example: "export POSTMARK_SERVER_TOKEN=6f56754c-2fba-4272-8032-3b7dabcd5196",
    },
    VendorToken {
        kind: "figma_personal_access_token",
        gate: &["figma"],
        pattern: r#"(?i)(?:\b|_)(?:figma)[ \tA-Za-z0-9_.-]{0,30}[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(?P<v>[0-9a-f]{4}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[\x60'"\s;,&)}\]]|\\[nr]|$)"#,
        doc: "https://github.com/praetorian-inc/noseyparker/blob/main/crates/noseyparker/data/default/builtin/rules/figma.yml",
        example: "X-Figma-Token: 5ce7-df72fdd8-9d8f-41ef-a0f5-993ff225eebf",
    },
];
