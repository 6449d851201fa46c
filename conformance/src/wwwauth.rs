//! `WWW-Authenticate` parser (RFC 9110 §11.6.1, RFC 6750 §3).
//!
//! Lenient by design: real servers send unquoted values, odd spacing, several challenges in one
//! header, and several headers. The parser never panics; what it cannot read it reports in
//! `problems` so a check can cite it.

/// One challenge: `Bearer realm="x", error="invalid_token"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Scheme as sent (compare case-insensitively).
    pub scheme: String,
    /// Parameters with lower-cased names, values unquoted.
    pub params: Vec<(String, String)>,
    pub token68: Option<String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        let n = name.to_ascii_lowercase();
        self.params
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// Parse result: the challenges read, and anything malformed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub challenges: Vec<Challenge>,
    pub problems: Vec<String>,
}

impl Parsed {
    pub fn bearer(&self) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.is_bearer())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses all `WWW-Authenticate` header values of one response.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Parsed {
    let mut out = Parsed::default();
    for v in values {
        let p = parse(v);
        out.challenges.extend(p.challenges);
        out.problems.extend(p.problems);
    }
    out
}

/// Parses one header value.
pub fn parse(input: &str) -> Parsed {
    let mut p = P {
        c: input.chars().collect(),
        i: 0,
        out: Parsed::default(),
    };
    p.challenges();
    p.out
}

struct P {
    c: Vec<char>,
    i: usize,
    out: Parsed,
}

impl P {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(' ') | Some('\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let s = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        self.c[s..self.i].iter().collect()
    }
    fn resync(&mut self) {
        while self.peek().is_some_and(|c| c != ',') {
            self.i += 1;
        }
    }
    /// Is the element starting at `at` an auth-param (`token BWS "=" ...`, not token68 `==`)?
    fn param_at(&self, at: usize) -> bool {
        let mut k = at;
        while self.c.get(k).is_some_and(|c| is_tchar(*c)) {
            k += 1;
        }
        if k == at {
            return false;
        }
        while matches!(self.c.get(k), Some(' ') | Some('\t')) {
            k += 1;
        }
        self.c.get(k) == Some(&'=') && self.c.get(k + 1) != Some(&'=')
    }
    fn challenges(&mut self) {
        loop {
            while matches!(self.peek(), Some(',') | Some(' ') | Some('\t')) {
                self.i += 1;
            }
            let Some(c) = self.peek() else { break };
            let scheme = self.token();
            if scheme.is_empty() {
                self.out.problems.push(format!(
                    "unexpected {c:?} at {} where a scheme was expected",
                    self.i
                ));
                self.i += 1;
                self.resync();
                continue;
            }
            let mut ch = Challenge {
                scheme,
                params: Vec::new(),
                token68: None,
            };
            self.ws();
            match self.peek() {
                None | Some(',') => {}
                Some(_) if self.param_at(self.i) => self.params(&mut ch),
                Some(_) => self.token68(&mut ch),
            }
            self.out.challenges.push(ch);
        }
    }
    fn token68(&mut self, ch: &mut Challenge) {
        let s = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
        {
            self.i += 1;
        }
        if self.i == s {
            self.out
                .problems
                .push(format!("unexpected {:?} at {}", self.c[self.i], self.i));
            self.resync();
            return;
        }
        while self.peek() == Some('=') {
            self.i += 1;
        }
        ch.token68 = Some(self.c[s..self.i].iter().collect());
        self.ws();
        if self.peek().is_some_and(|c| c != ',') {
            self.out
                .problems
                .push(format!("junk after token68 at {}", self.i));
            self.resync();
        }
    }
    fn params(&mut self, ch: &mut Challenge) {
        loop {
            self.ws();
            let name = self.token().to_ascii_lowercase();
            self.ws();
            if name.is_empty() || self.peek() != Some('=') {
                self.out
                    .problems
                    .push(format!("malformed parameter at {}", self.i));
                self.resync();
            } else {
                self.i += 1;
                self.ws();
                let value = if self.peek() == Some('"') {
                    self.i += 1;
                    let mut v = String::new();
                    let mut closed = false;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        match c {
                            '\\' => {
                                if let Some(n) = self.peek() {
                                    v.push(n);
                                    self.i += 1;
                                }
                            }
                            '"' => {
                                closed = true;
                                break;
                            }
                            c => v.push(c),
                        }
                    }
                    if !closed {
                        self.out
                            .problems
                            .push(format!("unterminated quoted value for {name:?}"));
                    }
                    v
                } else {
                    let v = self.token();
                    if v.is_empty() {
                        self.out.problems.push(format!("empty value for {name:?}"));
                    }
                    v
                };
                if ch.params.iter().any(|(k, _)| *k == name) {
                    self.out
                        .problems
                        .push(format!("parameter {name:?} repeated"));
                } else {
                    ch.params.push((name, value));
                }
                self.ws();
            }
            match self.peek() {
                None => return,
                Some(',') => {
                    // Skip empty elements, then decide: another param, or the next challenge.
                    let mut j = self.i;
                    while matches!(self.c.get(j), Some(',') | Some(' ') | Some('\t')) {
                        j += 1;
                    }
                    self.i = j;
                    if !self.param_at(j) {
                        return;
                    }
                }
                Some(_) => {
                    self.out
                        .problems
                        .push(format!("missing comma at {}", self.i));
                    if !self.param_at(self.i) {
                        self.resync();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_challenge_with_resource_metadata_and_scope() {
        let p = parse(
            r#"Bearer resource_metadata="https://app.example.io/.well-known/oauth-protected-resource/t/acme/mcp", scope="mcp:read mcp:tools""#,
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let b = p.bearer().unwrap();
        assert_eq!(
            b.param("resource_metadata"),
            Some("https://app.example.io/.well-known/oauth-protected-resource/t/acme/mcp")
        );
        assert_eq!(b.param("SCOPE"), Some("mcp:read mcp:tools"));
    }

    #[test]
    fn error_codes_unquoted_values_and_escapes() {
        let p = parse(
            r#"Bearer realm="ex\"ample", error=invalid_token, error_description="The access token expired""#,
        );
        let b = p.bearer().unwrap();
        assert_eq!(b.param("realm"), Some("ex\"ample"));
        assert_eq!(b.param("error"), Some("invalid_token"));
        assert_eq!(
            b.param("error_description"),
            Some("The access token expired")
        );
    }

    #[test]
    fn several_challenges_in_one_header() {
        let p = parse(
            r#"Basic realm="simple", Bearer realm="api", error="insufficient_scope", scope="a b", Newauth"#,
        );
        let schemes: Vec<_> = p.challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "Newauth"]);
        assert_eq!(p.bearer().unwrap().param("scope"), Some("a b"));
    }

    #[test]
    fn lower_case_scheme_and_bare_scheme() {
        let p = parse("bearer");
        assert!(p.bearer().is_some());
        assert!(p.bearer().unwrap().params.is_empty());
    }

    #[test]
    fn token68_challenge() {
        let p = parse("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagMDAu==");
        assert_eq!(
            p.challenges[0].token68.as_deref(),
            Some("YIIBhgYGKwYBBQUCoIIBejCCAXagMDAu==")
        );
    }

    #[test]
    fn malformed_inputs_never_panic_and_are_reported() {
        for bad in [
            "",
            "   ",
            ",,,",
            "Bearer error=\"unterminated",
            "Bearer =x",
            "Bearer a=",
            "Bearer a=\"1\" b=\"2\"",
            "\"quoted\"",
            "Bearer, , error=x",
            "Bearer realm=\"a\",, Basic",
        ] {
            let p = parse(bad);
            let _ = p.bearer();
        }
        assert!(!parse("Bearer error=\"unterminated").problems.is_empty());
        assert!(!parse("Bearer a=\"1\" b=\"2\"").problems.is_empty());
        assert!(parse("").challenges.is_empty());
        let p = parse("Bearer realm=\"a\",, Basic");
        assert_eq!(p.challenges.len(), 2);
    }

    #[test]
    fn typescript_sdk_style_error_without_credentials() {
        // The MCP TS SDK sends an error code even when no credentials were presented.
        let p = parse(
            r#"Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp""#,
        );
        let b = p.bearer().unwrap();
        assert_eq!(b.param("error"), Some("invalid_token"));
        assert_eq!(
            b.param("resource_metadata"),
            Some("http://localhost:3000/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn multiple_header_values() {
        let p = parse_all(["Basic realm=\"x\"", "Bearer scope=\"s\""]);
        assert_eq!(p.challenges.len(), 2);
        assert_eq!(p.bearer().unwrap().param("scope"), Some("s"));
    }
}
