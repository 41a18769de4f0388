//! The paths of the chat hooks on the public listener, in one leaf module: the router mounts
//! them ([`crate::http`]) and the rate limiter recognises them ([`crate::limits`]: Slack's and
//! Meta's signed callbacks come from a few addresses for many tenants).

pub const SLACK_COMMANDS_PATH: &str = "/api/v1/slack/commands";
pub const SLACK_INTERACTIVITY_PATH: &str = "/api/v1/slack/interactivity";
pub const WHATSAPP_WEBHOOK_PATH: &str = "/api/v1/whatsapp/webhook";
