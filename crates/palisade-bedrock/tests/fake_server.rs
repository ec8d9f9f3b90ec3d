//! The fake Bedrock server answers malformed requests the way Bedrock does
//! (400 ValidationException naming the field), never by failing. Raw HTTP
//! over a std socket, so exactly these bytes reach it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{SONNET, serve};
use palisade_core::testing::ScriptedProvider;

/// Sends one raw HTTP/1.1 request and returns (status line + headers, body).
async fn raw_post(addr: std::net::SocketAddr, path: &str, body: &'static str) -> (String, String) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        (head.to_ascii_lowercase(), body.to_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn malformed_bodies_get_a_validation_exception_naming_the_field() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let path = format!("/model/{SONNET}/converse");
    let cases = [
        ("{not json", "body"),
        (
            r#"{"messages":[{"role":"robot","content":[{"text":"hi"}]}]}"#,
            "messages[0].role",
        ),
        (
            r#"{"messages":[{"role":"user","content":[{"text":7}]}]}"#,
            "messages[0].content[0].text",
        ),
        (
            r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":0}}"#,
            "max_tokens",
        ),
        (
            r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":{"thinking":{"type":"sometimes"}}}"#,
            "additionalModelRequestFields.thinking.type",
        ),
    ];
    for (body, field) in cases {
        let (head, answer) = raw_post(server.local_addr(), &path, body).await;
        assert!(head.starts_with("http/1.1 400"), "{body}: {head}");
        assert!(
            head.contains("x-amzn-errortype: validationexception"),
            "{body}: {head}"
        );
        assert!(head.contains("x-amzn-requestid: "), "{body}: {head}");
        assert!(answer.contains(field), "{body}: {answer}");
    }
}

#[tokio::test]
async fn unknown_operations_get_a_404() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let (head, _) = raw_post(server.local_addr(), "/model/x/invoke-with-magic", "{}").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let addr = server.local_addr();
    server.shutdown().await;
    let refused = tokio::task::spawn_blocking(move || TcpStream::connect(addr).is_err())
        .await
        .unwrap();
    assert!(refused);
}
