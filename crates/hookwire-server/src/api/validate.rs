//! Field checks shared by the resource modules; each failure is a 422 naming the field.

use std::collections::BTreeMap;

use hookwire_core::limits::{
    CHANNEL_LENGTH_MAX, EVENT_TYPE_NAME_LENGTH_MAX, METADATA_ENTRIES_MAX, NAME_LENGTH_MAX, TAG_LENGTH_MAX,
    TAGS_PER_MESSAGE_MAX, UID_LENGTH_MAX,
};

use super::error::{ApiError, ApiResult};

pub fn length(field: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::invalid(&["body", field], format!("length must be between {min} and {max}, got {len}")));
    }
    Ok(())
}

pub fn name(field: &str, value: &str) -> ApiResult<()> {
    length(field, value, 1, NAME_LENGTH_MAX)
}

/// A user-chosen uid: `[a-zA-Z0-9._-]`, and not shaped like a generated id.
pub fn uid(value: &str, id_prefix: &str) -> ApiResult<()> {
    length("uid", value, 1, UID_LENGTH_MAX)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(ApiError::invalid(&["body", "uid"], "may contain only letters, digits, '-', '_' and '.'"));
    }
    if value.starts_with(id_prefix) {
        return Err(ApiError::invalid(&["body", "uid"], format!("must not start with {id_prefix:?}, which ids use")));
    }
    Ok(())
}

/// Event type names and subscription patterns: `[a-zA-Z0-9._-]`, a pattern may end in `*`.
pub fn event_type_name(field: &str, value: &str, allow_wildcard: bool) -> ApiResult<()> {
    length(field, value, 1, EVENT_TYPE_NAME_LENGTH_MAX)?;
    let body = if allow_wildcard { value.strip_suffix('*').unwrap_or(value) } else { value };
    if !body.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        let also = if allow_wildcard { " (a pattern may end in '*')" } else { "" };
        return Err(ApiError::invalid(
            &["body", field],
            format!("{value:?}: may contain only letters, digits, '-', '_' and '.'{also}"),
        ));
    }
    Ok(())
}

/// Channels: at most `max_count`, each 1..=`CHANNEL_LENGTH_MAX` characters with no whitespace
/// or control character (they are matched exactly and shown in logs and the dashboard).
pub fn channels(field: &str, values: &[String], max_count: usize) -> ApiResult<()> {
    if values.len() > max_count {
        return Err(ApiError::invalid(&["body", field], format!("at most {max_count} channels")));
    }
    for channel in values {
        length(field, channel, 1, CHANNEL_LENGTH_MAX)?;
        if let Some(bad) = channel.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiError::invalid(&["body", field], format!("{channel:?} contains {bad:?}")));
        }
    }
    Ok(())
}

/// Message tags, as Svix bounds them: at most `TAGS_PER_MESSAGE_MAX`, unique, each
/// 1..=`TAG_LENGTH_MAX` of letters, digits and `-_./\#`.
pub fn tags(field: &str, values: &[String]) -> ApiResult<()> {
    if values.len() > TAGS_PER_MESSAGE_MAX {
        return Err(ApiError::invalid(&["body", field], format!("at most {TAGS_PER_MESSAGE_MAX} tags")));
    }
    for (index, tag) in values.iter().enumerate() {
        length(field, tag, 1, TAG_LENGTH_MAX)?;
        if !tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '\\' | '#')) {
            return Err(ApiError::invalid(
                &["body", field],
                format!("{tag:?}: may contain only letters, digits and - _ . / \\ #"),
            ));
        }
        if values[..index].contains(tag) {
            return Err(ApiError::invalid(&["body", field], format!("{tag:?} appears twice")));
        }
    }
    Ok(())
}

pub fn metadata(values: &BTreeMap<String, String>) -> ApiResult<()> {
    if values.len() > METADATA_ENTRIES_MAX {
        return Err(ApiError::invalid(&["body", "metadata"], format!("at most {METADATA_ENTRIES_MAX} entries")));
    }
    Ok(())
}

/// `Some(Some(v))` for a value, `Some(None)` for an explicit null, `None` when absent: the three
/// states a PATCH field has.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
