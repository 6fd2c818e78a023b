//! Checks shared by the inventory and `config.toml`: secret references,
//! S3-compatible endpoint URLs and bucket names.

/// How secret references are written in the file being checked, for hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `{env: NAME}` or `{file: /path}`
    Yaml,
    /// `{ env = "NAME" }` or `{ file = "/path" }`
    Toml,
}

/// Checks an environment variable name given as a secret reference.
///
/// # Errors
/// The message to report at the name.
pub(crate) fn check_env_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be an environment variable name: letters, digits and '_', not starting with a digit")
    }
}

/// An endpoint URL: `http://` or `https://`, without credentials in it.
/// On error: the message and the hint. The URL is not repeated when it may
/// hold credentials.
pub(crate) fn check_endpoint_url(url: &str, syntax: Syntax) -> Result<(), (String, String)> {
    let credentials = || {
        let forms = match syntax {
            Syntax::Yaml => "{env: NAME} or {file: /path}",
            Syntax::Toml => "{ env = \"NAME\" } or { file = \"/path\" }",
        };
        (
            "url must not hold credentials".to_string(),
            format!("give access_key_id and secret_access_key by reference: {forms}"),
        )
    };
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        if url.contains('@') {
            return Err(credentials());
        }
        return Err((
            format!("url {url:?} must start with http:// or https://"),
            "e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com".into(),
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(credentials());
    }
    if authority.is_empty() {
        return Err((
            format!("url {url:?} has no host"),
            "e.g. http://127.0.0.1:9000".into(),
        ));
    }
    Ok(())
}

/// Checks a bucket name against S3's rules.
pub(crate) fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let chars_ok = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok = bucket.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && bucket.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&bucket.len()) && chars_ok && ends_ok {
        Ok(())
    } else {
        Err(format!(
            "bucket name {bucket:?} is not a valid S3 bucket name: use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_refused_without_repeating_them() {
        let (message, hint) =
            check_endpoint_url("http://AKIA:s3kr1t@host:9000", Syntax::Toml).unwrap_err();
        assert!(!message.contains("s3kr1t") && !hint.contains("s3kr1t"));
        assert!(hint.contains("{ env = \"NAME\" }"), "{hint}");
        assert!(check_endpoint_url("https://s3.example", Syntax::Yaml).is_ok());
        assert!(check_endpoint_url("http://", Syntax::Yaml).is_err());
    }

    #[test]
    fn environment_variable_names() {
        assert!(check_env_name("PG_MAIN_PASSWORD").is_ok());
        assert!(check_env_name("_X1").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_env_name("A-B").is_err());
        assert!(check_env_name("").is_err());
    }

    #[test]
    fn bucket_names_follow_s3() {
        assert!(check_bucket_name("payments-audit").is_ok());
        assert!(check_bucket_name("ab").is_err());
        assert!(check_bucket_name("Payments").is_err());
        assert!(check_bucket_name("-x-").is_err());
    }
}
