//! Listings a page at a time, as AWS pages them: `MaxResults` bounds a
//! page, and an opaque `NextToken` says where the next one starts.
//!
//! A token is the key of the last item shown (a name, or a record's
//! creation position and ID) and the listing it belongs to, so a page
//! always starts right after what the caller saw: items written meanwhile
//! never shift a page, nothing is shown twice or skipped.

use coffer_catalog::RecordCursor;

use crate::error::{Error, Result};

/// The most items a page holds (the service model's bound).
pub const MAX_RESULTS: u32 = 1000;

/// What page a caller asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 1 to [`MAX_RESULTS`]; all of them (up to the bound) when absent.
    pub max_results: Option<u32>,
    pub next_token: Option<String>,
}

/// One page and the token of the next, when there may be more.
#[derive(Clone, Debug, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl PageRequest {
    /// The page's size.
    ///
    /// # Errors
    /// `InvalidParameterValue` outside 1 to [`MAX_RESULTS`].
    pub fn limit(&self) -> Result<usize> {
        match self.max_results {
            None => Ok(MAX_RESULTS as usize),
            Some(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n as usize),
            Some(n) => Err(Error::invalid_parameter(format!(
                "MaxResults {n} is out of range; use 1 to {MAX_RESULTS}"
            ))),
        }
    }

    /// The name a page of `listing` starts after.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a token this listing did not give.
    pub fn after_name(&self, listing: &str) -> Result<Option<String>> {
        let Some(token) = &self.next_token else {
            return Ok(None);
        };
        match decode(token, listing)?.as_slice() {
            [name] => Ok(Some(name.clone())),
            _ => Err(foreign(listing)),
        }
    }

    /// The record a page of `listing` starts after.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a token this listing did not give.
    pub fn after_record(&self, listing: &str) -> Result<Option<RecordCursor>> {
        let Some(token) = &self.next_token else {
            return Ok(None);
        };
        match decode(token, listing)?.as_slice() {
            [created_at, id] => Ok(Some(RecordCursor {
                created_at: created_at.clone(),
                id: id.clone(),
            })),
            _ => Err(foreign(listing)),
        }
    }
}

/// The token of a page of `listing` that ends at `name`.
pub fn name_token(listing: &str, name: &str) -> String {
    encode(listing, &[name])
}

/// The token of a page of `listing` that ends at the record `cursor`.
pub fn record_token(listing: &str, cursor: &RecordCursor) -> String {
    encode(listing, &[&cursor.created_at, &cursor.id])
}

fn foreign(listing: &str) -> Error {
    Error::invalid_parameter(format!(
        "the NextToken was not given by {listing}; ask again without a NextToken"
    ))
}

/// `listing` and the parts, joined by NUL, in hex: opaque to callers.
fn encode(listing: &str, parts: &[&str]) -> String {
    let mut text = String::from(listing);
    for part in parts {
        text.push('\0');
        text.push_str(part);
    }
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(token: &str, listing: &str) -> Result<Vec<String>> {
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| foreign(listing))?;
    let text = String::from_utf8(bytes).map_err(|_| foreign(listing))?;
    let mut parts = text.split('\0').map(str::to_string);
    if parts.next().as_deref() != Some(listing) {
        return Err(foreign(listing));
    }
    Ok(parts.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_belong_to_their_listing() {
        let cursor = RecordCursor {
            created_at: "2026-12-07T10:00:00.000Z".into(),
            id: "J-1".into(),
        };
        let token = record_token("ListBackupJobs", &cursor);
        let request = PageRequest {
            max_results: Some(10),
            next_token: Some(token.clone()),
        };
        assert_eq!(
            request.after_record("ListBackupJobs").unwrap(),
            Some(cursor)
        );
        for listing in ["ListBackupVaults", "ListBackupJobsX"] {
            let error = request.after_record(listing).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidParameterValue);
        }
        let garbled = PageRequest {
            max_results: None,
            next_token: Some("zz".into()),
        };
        assert!(garbled.after_name("ListBackupVaults").is_err());
        let named = PageRequest {
            max_results: None,
            next_token: Some(name_token("ListBackupVaults", "primary")),
        };
        assert_eq!(
            named.after_name("ListBackupVaults").unwrap().as_deref(),
            Some("primary")
        );
    }

    #[test]
    fn max_results_follows_the_model() {
        let page = |n| PageRequest {
            max_results: Some(n),
            next_token: None,
        };
        assert_eq!(page(1).limit().unwrap(), 1);
        assert_eq!(page(1000).limit().unwrap(), 1000);
        assert!(page(0).limit().is_err());
        assert!(page(1001).limit().is_err());
        assert_eq!(PageRequest::default().limit().unwrap(), 1000);
    }
}
