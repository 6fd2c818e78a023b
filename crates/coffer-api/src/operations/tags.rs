//! TagResource, UntagResource and ListTags: the ARN and tags handed to the
//! service, which decides what may be tagged (stack objects are refused).

use coffer_service::tags::TagChange;
use coffer_service::{Caller, Service};
use serde_json::Value;

use super::{shape, Answer};
use crate::input::Input;

fn tags_value(tags: &coffer_model::Tags) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

pub(super) async fn tag_resource(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let tags = input.tags("Tags")?;
    service
        .change_tags(
            caller,
            input.required("ResourceArn")?,
            TagChange::Add(&tags),
        )
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn untag_resource(service: &Service, caller: &Caller, input: &Input) -> Answer {
    let keys = input.strings("TagKeyList")?;
    service
        .change_tags(
            caller,
            input.required("ResourceArn")?,
            TagChange::Remove(&keys),
        )
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn list_tags(service: &Service, caller: &Caller, input: &Input) -> Answer {
    // A resource's tags are few (AWS allows 50): one page.
    super::page(input)?;
    let tags = service
        .list_tags(caller, input.required("ResourceArn")?)
        .await?;
    Ok(shape(vec![("Tags", Some(tags_value(&tags)))]))
}
