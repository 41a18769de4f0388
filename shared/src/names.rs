//! Resource names as words: what ties a log group, a change or a metric to the resource an alarm
//! watches when AWS gives no link between them (a function and the API in front of it, a queue
//! and its consumer, a state machine and its tasks usually share a word of their names).

/// Words of a name that identify something: at least four characters, not all digits, and not a
/// word every account uses in its names (`prod`, `service`, `lambda`, `events`, …). Lowercase
/// the name first; the words borrow from it.
pub fn distinctive_tokens(name: &str) -> impl Iterator<Item = &str> {
    const COMMON: &[&str] = &[
        "aws",
        "ecs",
        "lambda",
        "instance",
        "cluster",
        "apigateway",
        "gateway",
        "execution",
        "events",
        "prod",
        "production",
        "staging",
        "stage",
        "service",
        "worker",
        "workers",
        "logs",
        "error",
        "errors",
        "access",
        "main",
        "default",
        "task",
        "tasks",
        "queue",
        "database",
        "host",
        "hosts",
        "server",
        "containerinsights",
        "performance",
        "vendedlogs",
        "states",
        "statemachine",
        "var",
        "messages",
        "syslog",
        "stream",
        "function",
        "handler",
        "primary",
        "replica",
        "internal",
        "amazonaws",
        "application",
        "latest",
        "targetgroup",
        "loadbalancer",
        "public",
        "private",
    ];
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= 4 && !t.bytes().all(|b| b.is_ascii_digit()))
        .filter(|t| !COMMON.contains(t))
}

/// The family part of a task definition: `orders-api` of `orders-api:7` or of
/// `arn:aws:ecs:…:task-definition/orders-api:7`. ECS names log groups after it (`/ecs/FAMILY`)
/// as often as after the service.
pub fn task_family(task_definition: &str) -> &str {
    let tail = task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition);
    tail.split(':').next().unwrap_or(tail)
}

/// Whether two names share a distinctive word (both lowercased here).
pub fn share_a_word(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    let words: Vec<&str> = distinctive_tokens(&b).collect();
    let shared = distinctive_tokens(&a).any(|t| words.contains(&t));
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_families_drop_revision_and_arn() {
        assert_eq!(task_family("orders-api:7"), "orders-api");
        assert_eq!(
            task_family("arn:aws:ecs:eu-west-1:123456789012:task-definition/orders-api:7"),
            "orders-api"
        );
        assert_eq!(task_family("orders-api"), "orders-api");
    }

    #[test]
    fn names_share_the_words_that_identify_them() {
        assert!(share_a_word(
            "quotes-public-api",
            "/aws/lambda/quotes-api-handler"
        ));
        assert!(share_a_word(
            "arn:aws:states:eu:1:stateMachine:invoice-run",
            "/aws/lambda/invoice-generate"
        ));
        assert!(!share_a_word("/aws/lambda/prod-api", "/ecs/prod-web"));
        assert!(!share_a_word("orders-2024", "/aws/lambda/2024-batch"));
        assert_eq!(
            distinctive_tokens("api-gateway-execution-logs_k7t2hq9x1d/prod").collect::<Vec<_>>(),
            ["k7t2hq9x1d"]
        );
    }
}
