//! One test per validation rule: the error kind, and a message that names the field.

use palisade_core::{
    ChatRequest, ContentBlock, ErrorKind, Message, ProviderError, Role, ValidationErrorKind,
    validate,
};

fn assert_invalid(req: &ChatRequest, kind: ValidationErrorKind, field: &str) {
    let err = validate(req).expect_err("request should be rejected");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.field(), field, "{err}");
    assert!(
        err.to_string().contains(field),
        "message {err:?} should name the field {field}"
    );
    // Adapters turn it into the taxonomy's InvalidRequest.
    let provider_err = ProviderError::from(err);
    assert_eq!(provider_err.kind(), ErrorKind::InvalidRequest);
    assert!(provider_err.to_string().contains(field));
}

#[test]
fn a_well_formed_request_passes() {
    let req = ChatRequest::new(vec![
        Message::user("hi"),
        Message::assistant("hello"),
        Message::user("how are you?"),
    ])
    .with_system("be brief")
    .with_temperature(1.0)
    .with_max_tokens(2048)
    .with_thinking(1024);
    assert_eq!(validate(&req), Ok(()));
}

#[test]
fn empty_messages() {
    assert_invalid(
        &ChatRequest::new(vec![]),
        ValidationErrorKind::EmptyMessages,
        "messages",
    );
}

#[test]
fn empty_content_blocks() {
    let req = ChatRequest::new(vec![Message {
        role: Role::User,
        content: vec![],
    }]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyContent,
        "messages[0].content",
    );
}

#[test]
fn blank_text_is_empty_content() {
    let req = ChatRequest::new(vec![Message::user("hi"), Message::assistant("  \n ")]);
    assert_invalid(
        &req,
        ValidationErrorKind::EmptyContent,
        "messages[1].content",
    );
}

#[test]
fn first_message_must_be_user() {
    let req = ChatRequest::new(vec![Message::assistant("hello")]);
    assert_invalid(
        &req,
        ValidationErrorKind::FirstMessageNotUser,
        "messages[0].role",
    );
}

#[test]
fn roles_must_alternate() {
    let req = ChatRequest::new(vec![
        Message::user("a"),
        Message::assistant("b"),
        Message::assistant("c"),
    ]);
    assert_invalid(
        &req,
        ValidationErrorKind::RolesNotAlternating,
        "messages[2].role",
    );
}

#[test]
fn nul_byte_in_message_text() {
    let req = ChatRequest::new(vec![Message {
        role: Role::User,
        content: vec![ContentBlock::text("ok"), ContentBlock::text("bad\0byte")],
    }]);
    assert_invalid(
        &req,
        ValidationErrorKind::NulByte,
        "messages[0].content[1].text",
    );
}

#[test]
fn nul_byte_in_system() {
    let req = ChatRequest::user("hi").with_system("sys\0tem");
    assert_invalid(&req, ValidationErrorKind::NulByte, "system");
}

#[test]
fn temperature_out_of_range() {
    assert_invalid(
        &ChatRequest::user("hi").with_temperature(1.5),
        ValidationErrorKind::TemperatureOutOfRange,
        "temperature",
    );
    assert_invalid(
        &ChatRequest::user("hi").with_temperature(f32::NAN),
        ValidationErrorKind::TemperatureOutOfRange,
        "temperature",
    );
}

#[test]
fn top_p_out_of_range() {
    let mut req = ChatRequest::user("hi");
    req.top_p = Some(-0.1);
    assert_invalid(&req, ValidationErrorKind::TopPOutOfRange, "top_p");
}

#[test]
fn max_tokens_zero() {
    assert_invalid(
        &ChatRequest::user("hi").with_max_tokens(0),
        ValidationErrorKind::MaxTokensZero,
        "max_tokens",
    );
}

#[test]
fn thinking_budget_not_smaller_than_max_tokens() {
    let req = ChatRequest::user("hi")
        .with_max_tokens(1024)
        .with_thinking(1024);
    assert_invalid(
        &req,
        ValidationErrorKind::ThinkingBudgetTooLarge,
        "thinking.budget_tokens",
    );
}
