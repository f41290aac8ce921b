//! `open_stream` against canned HTTP servers (tokio), natively.

use super::*;
use crate::types::{ChatMessage, FinishReason, ToolCall, Usage};
use crate::ToolCallAccumulator;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
enum Reply {
    /// 200 text/event-stream; the pieces are written with a short pause between them.
    Sse(Vec<Vec<u8>>),
    Status(u16, String),
    /// Accept, read the request, never answer.
    Hang,
    /// Write the pieces, then wait for the client to go away.
    SseThenWait(Vec<Vec<u8>>),
}

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    client_closed: bool,
}

/// A server answering its n-th connection with `replies[n]` (the last one repeats).
async fn serve(replies: Vec<Reply>) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let reply = replies[n.min(replies.len() - 1)].clone();
            n += 1;
            tokio::spawn(answer(socket, reply, seen2.clone()));
        }
    });
    (url, seen)
}

async fn answer(mut socket: TcpStream, reply: Reply, seen: Arc<Mutex<Seen>>) {
    let request = read_request(&mut socket).await;
    seen.lock().unwrap().requests.push(request);
    let sse_head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    match reply {
        Reply::Sse(pieces) => {
            let _ = socket.write_all(sse_head.as_bytes()).await;
            for piece in pieces {
                let _ = socket.write_all(&piece).await;
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        Reply::SseThenWait(pieces) => {
            let _ = socket.write_all(sse_head.as_bytes()).await;
            for piece in pieces {
                let _ = socket.write_all(&piece).await;
            }
            let mut buf = [0u8; 64];
            while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            seen.lock().unwrap().client_closed = true;
        }
        Reply::Status(status, body) => {
            let head = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
    }
}

/// Head and body as text.
async fn read_request(socket: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.read(&mut buf).await {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).to_string()
}

fn frame(chunk: &str) -> Vec<u8> {
    format!("data: {chunk}\n\n").into_bytes()
}

fn text_stream() -> Vec<Vec<u8>> {
    vec![
        ": ping\n\n".into(),
        frame(
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
        ),
        frame(r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}"#),
        // A frame split inside "ö" and across CRLF.
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo w\xc3".to_vec(),
        b"\xb6rld\"},\"finish_reason\":null}]}\r".to_vec(),
        "\n\r\n".into(),
        frame(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#),
        frame(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#),
        "data: [DONE]\n\n".into(),
    ]
}

fn provider(name: &str, url: &str) -> Provider {
    Provider {
        connect_timeout: Duration::from_secs(2),
        first_token_timeout: Duration::from_millis(200),
        ..Provider::new(name, url, "test-model")
    }
}

fn request() -> ChatRequest {
    ChatRequest { messages: vec![ChatMessage::User { content: "hi".into() }], ..ChatRequest::default() }
}

async fn collect(stream: &mut ChatStream) -> Vec<Result<StreamEvent, LlmError>> {
    let mut all = Vec::new();
    while let Some(item) = stream.next().await {
        all.push(item);
    }
    all
}

/// A loopback port with nothing listening.
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn text_stream_with_usage_and_auth() {
    let (url, seen) = serve(vec![Reply::Sse(text_stream())]).await;
    let mut p = provider("main", &format!("{url}/v1"));
    p.api_key = Some("sk-secret-123".into());
    let mut stream = open_stream(&[p], &request()).await.unwrap();
    assert_eq!(stream.provider, "main");
    let events: Vec<StreamEvent> = collect(&mut stream).await.into_iter().map(Result::unwrap).collect();
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello wörld");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish {
            reason: FinishReason::Stop,
            usage: Some(Usage { prompt_tokens: 5, completion_tokens: 3 })
        })
    );
    let seen = seen.lock().unwrap();
    let req = &seen.requests[0];
    assert!(req.starts_with("POST /v1/chat/completions HTTP/1.1"), "{req}");
    assert!(req.to_ascii_lowercase().contains("authorization: bearer sk-secret-123"));
    assert!(req.to_ascii_lowercase().contains("accept: text/event-stream"));
    assert!(req.contains(r#""stream":true"#) && req.contains(r#""model":"test-model""#));
}

#[tokio::test]
async fn tool_calls_stream() {
    let pieces = vec![
        frame(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}]}"#,
        ),
        frame(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"id\""}}]},"finish_reason":null}]}"#,
        ),
        frame(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":null,"function":{"name":null,"arguments":":7}"}}]},"finish_reason":null}]}"#,
        ),
        frame(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"now","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
        ),
        "data: [DONE]\n\n".into(),
    ];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let mut stream = open_stream(&[provider("p", &url)], &request()).await.unwrap();
    let mut acc = ToolCallAccumulator::new();
    let mut starts = Vec::new();
    let mut last = None;
    while let Some(item) = stream.next().await {
        let event = item.unwrap();
        if let Some(progress) = acc.push_event(&event) {
            starts.extend(progress.start.map(|s| s.name));
        }
        last = Some(event);
    }
    assert_eq!(starts, vec!["lookup", "now"]);
    assert_eq!(last, Some(StreamEvent::Finish { reason: FinishReason::ToolCalls, usage: None }));
    assert_eq!(
        acc.into_calls(),
        vec![
            ToolCall { id: "call_1".into(), name: "lookup".into(), arguments: "{\"id\":7}".into() },
            ToolCall { id: "call_2".into(), name: "now".into(), arguments: "{}".into() },
        ]
    );
}

#[tokio::test]
async fn fails_over_from_500_stall_and_refused_to_a_good_provider() {
    let (bad, _) = serve(vec![Reply::Status(503, r#"{"error":"overloaded"}"#.into())]).await;
    let (limited, _) = serve(vec![Reply::Status(429, "slow down".into())]).await;
    let (stalled, _) = serve(vec![Reply::Hang]).await;
    // Headers arrive, then only pings: still no first token.
    let (pinging, _) = serve(vec![Reply::SseThenWait(vec![
        ": ping\n\n".into(),
        frame(r#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#),
    ])])
    .await;
    let refused = closed_port_url().await;
    let (good, _) = serve(vec![Reply::Sse(text_stream())]).await;
    let providers = [
        provider("refused", &refused),
        provider("bad", &bad),
        provider("limited", &limited),
        provider("stalled", &stalled),
        provider("pinging", &pinging),
        provider("good", &good),
    ];
    let mut stream = open_stream(&providers, &request()).await.unwrap();
    assert_eq!(stream.provider, "good");
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::TextDelta(t))) if t == "Hel"));
}

#[tokio::test]
async fn all_down_is_all_providers_failed() {
    let (bad, _) = serve(vec![Reply::Status(500, "boom".into())]).await;
    let (stalled, _) = serve(vec![Reply::Hang]).await;
    let refused = closed_port_url().await;
    let err = open_stream(&[provider("a", &refused), provider("b", &bad), provider("c", &stalled)], &request())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "llm_unavailable");
    let LlmError::AllProvidersFailed { attempts } = err else { panic!() };
    let names: Vec<&str> = attempts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(attempts[1].1.contains("500") && attempts[1].1.contains("boom"));
    assert!(attempts[2].1.contains("no first token"));
    assert!(
        matches!(open_stream(&[], &request()).await, Err(LlmError::AllProvidersFailed { attempts }) if attempts.is_empty())
    );
}

#[tokio::test]
async fn bad_request_does_not_fail_over_and_hides_the_key() {
    let long = format!("{{\"error\":\"bad key sk-secret-123 {}\"}}", "x".repeat(500));
    let (bad, _) = serve(vec![Reply::Status(400, long)]).await;
    let (good, seen_good) = serve(vec![Reply::Sse(text_stream())]).await;
    let mut p = provider("bad", &bad);
    p.api_key = Some("sk-secret-123".into());
    assert!(!format!("{p:?}").contains("sk-secret"));
    let err = open_stream(&[p, provider("good", &good)], &request()).await.unwrap_err();
    let LlmError::Http { status, body } = &err else { panic!("{err:?}") };
    assert_eq!(*status, 400);
    assert!(body.chars().count() <= 200 && body.contains("[redacted]") && !body.contains("sk-secret"));
    assert!(seen_good.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn mid_stream_error_comes_out_of_next() {
    let pieces = vec![
        frame(r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#),
        frame(r#"{"error":{"message":"upstream overloaded","type":"server_error"}}"#),
    ];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let (good, seen_good) = serve(vec![Reply::Sse(text_stream())]).await;
    let mut stream = open_stream(&[provider("p", &url), provider("good", &good)], &request()).await.unwrap();
    let all = collect(&mut stream).await;
    assert_eq!(
        all,
        vec![
            Ok(StreamEvent::TextDelta("Hi".into())),
            Err(LlmError::MidStream { message: "upstream overloaded".into() })
        ]
    );
    assert!(seen_good.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn a_body_cut_short_is_truncated() {
    let pieces = vec![frame(r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#)];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let mut stream = open_stream(&[provider("p", &url)], &request()).await.unwrap();
    assert_eq!(collect(&mut stream).await, vec![Ok(StreamEvent::TextDelta("Hi".into())), Err(LlmError::Truncated)]);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let (url, seen) =
        serve(vec![Reply::SseThenWait(vec![frame(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#)])]).await;
    let mut stream = open_stream(&[provider("p", &url)], &request()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::TextDelta(_)))));
    drop(stream);
    for _ in 0..100 {
        if seen.lock().unwrap().client_closed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the connection stayed open after the stream was dropped");
}

#[test]
fn futures_and_streams_are_send_natively() {
    fn is_send<T: Send>(_: &T) {}
    let providers = [provider("p", "http://127.0.0.1:9")];
    let request = request();
    is_send(&open_stream(&providers, &request));
    fn stream_is_send<T: Send>() {}
    stream_is_send::<ChatStream>();
}

// ---- Anthropic Messages dialect ----

use crate::types::Dialect;

/// A named SSE event.
fn named(event: &str, data: &str) -> Vec<u8> {
    format!("event: {event}\ndata: {data}\n\n").into_bytes()
}

fn anthropic(name: &str, url: &str) -> Provider {
    provider(name, url).with_dialect(Dialect::Anthropic)
}

fn anthropic_text_stream() -> Vec<Vec<u8>> {
    vec![
        named(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"test-model","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#,
        ),
        named(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        named("ping", r#"{"type": "ping"}"#),
        named(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
        ),
        // An event split inside "ö" and across CRLF.
        b"event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo w\xc3".to_vec(),
        b"\xb6rld\"}}\r".to_vec(),
        "\n\r\n".into(),
        named(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        named(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}"#,
        ),
        named("message_stop", r#"{"type":"message_stop"}"#),
    ]
}

#[tokio::test]
async fn anthropic_text_stream_headers_and_body() {
    let (url, seen) = serve(vec![Reply::Sse(anthropic_text_stream())]).await;
    let mut p = anthropic("claude", &url);
    p.api_key = Some("sk-ant-secret".into());
    let request = ChatRequest {
        messages: vec![ChatMessage::System { content: "be brief".into() }, ChatMessage::User { content: "hi".into() }],
        ..ChatRequest::default()
    };
    let mut stream = open_stream(&[p], &request).await.unwrap();
    assert_eq!(stream.provider, "claude");
    let events: Vec<StreamEvent> = collect(&mut stream).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            StreamEvent::TextDelta("Hel".into()),
            StreamEvent::TextDelta("lo wörld".into()),
            StreamEvent::Finish {
                reason: FinishReason::Stop,
                usage: Some(Usage { prompt_tokens: 12, completion_tokens: 4 })
            }
        ]
    );
    let seen = seen.lock().unwrap();
    let req = &seen.requests[0];
    assert!(req.starts_with("POST /v1/messages HTTP/1.1"), "{req}");
    let lower = req.to_ascii_lowercase();
    assert!(lower.contains("x-api-key: sk-ant-secret"), "{req}");
    assert!(lower.contains("anthropic-version: 2023-06-01"), "{req}");
    assert!(!lower.contains("authorization:"), "{req}");
    let body: serde_json::Value = serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "model": "test-model",
            "max_tokens": 1024,
            "system": "be brief",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "stream": true
        })
    );
}

#[tokio::test]
async fn anthropic_tool_use_with_fragmented_partial_json() {
    let pieces = vec![
        named(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_2","role":"assistant","content":[],"usage":{"input_tokens":40,"output_tokens":1}}}"#,
        ),
        named(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        named(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Looking."}}"#,
        ),
        named("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
        named(
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"lookup","input":{}}}"#,
        ),
        named(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        ),
        named(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"id\""}}"#,
        ),
        // One event split across two writes.
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_de".to_vec(),
        b"lta\",\"partial_json\":\": 7}\"}}\n\n".to_vec(),
        named("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
        named(
            "content_block_start",
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_02","name":"now","input":{}}}"#,
        ),
        named("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
        named(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30}}"#,
        ),
        named("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let mut stream = open_stream(&[anthropic("a", &url)], &request()).await.unwrap();
    let mut acc = ToolCallAccumulator::new();
    let mut starts = Vec::new();
    let mut text = String::new();
    let mut last = None;
    while let Some(item) = stream.next().await {
        let event = item.unwrap();
        if let StreamEvent::TextDelta(t) = &event {
            text.push_str(t);
        }
        if let Some(progress) = acc.push_event(&event) {
            starts.extend(progress.start.map(|s| (s.index, s.id, s.name)));
        }
        last = Some(event);
    }
    assert_eq!(text, "Looking.");
    assert_eq!(
        starts,
        vec![(1, "toolu_01".to_owned(), "lookup".to_owned()), (2, "toolu_02".to_owned(), "now".to_owned())]
    );
    assert_eq!(
        last,
        Some(StreamEvent::Finish {
            reason: FinishReason::ToolCalls,
            usage: Some(Usage { prompt_tokens: 40, completion_tokens: 30 })
        })
    );
    assert_eq!(
        acc.into_calls(),
        vec![
            ToolCall { id: "toolu_01".into(), name: "lookup".into(), arguments: "{\"id\": 7}".into() },
            ToolCall { id: "toolu_02".into(), name: "now".into(), arguments: "{}".into() },
        ]
    );
}

#[tokio::test]
async fn anthropic_error_event_comes_out_of_next() {
    let pieces = vec![
        named("message_start", r#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#),
        named(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        named(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        ),
        named("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
    ];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let (good, seen_good) = serve(vec![Reply::Sse(text_stream())]).await;
    let mut stream = open_stream(&[anthropic("a", &url), provider("good", &good)], &request()).await.unwrap();
    assert_eq!(stream.provider, "a");
    assert_eq!(
        collect(&mut stream).await,
        vec![Ok(StreamEvent::TextDelta("Hi".into())), Err(LlmError::MidStream { message: "Overloaded".into() })]
    );
    assert!(seen_good.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn anthropic_cut_short_is_truncated() {
    let pieces = vec![named(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
    )];
    let (url, _) = serve(vec![Reply::Sse(pieces)]).await;
    let mut stream = open_stream(&[anthropic("a", &url)], &request()).await.unwrap();
    assert_eq!(collect(&mut stream).await, vec![Ok(StreamEvent::TextDelta("Hi".into())), Err(LlmError::Truncated)]);
}

#[tokio::test]
async fn anthropic_529_and_pings_fail_over_to_an_openai_provider() {
    let (overloaded, seen_overloaded) = serve(vec![Reply::Status(
        529,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(),
    )])
    .await;
    // Headers, message_start and pings, but no first token.
    let (pinging, _) = serve(vec![Reply::SseThenWait(vec![
        named("message_start", r#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#),
        named("ping", r#"{"type":"ping"}"#),
    ])])
    .await;
    let (good, seen_good) = serve(vec![Reply::Sse(text_stream())]).await;
    let providers =
        [anthropic("claude", &overloaded), anthropic("claude-stalled", &pinging), provider("openai", &good)];
    let mut stream = open_stream(&providers, &request()).await.unwrap();
    assert_eq!(stream.provider, "openai");
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::TextDelta(t))) if t == "Hel"));
    assert!(seen_overloaded.lock().unwrap().requests[0].starts_with("POST /v1/messages "));
    assert!(seen_good.lock().unwrap().requests[0].starts_with("POST /v1/chat/completions "));

    // All Anthropic providers down: the 529 is reported.
    let err = open_stream(&[anthropic("claude", &overloaded)], &request()).await.unwrap_err();
    let LlmError::AllProvidersFailed { attempts } = err else { panic!("{err:?}") };
    assert!(attempts[0].1.contains("529") && attempts[0].1.contains("Overloaded"));
}

#[tokio::test]
async fn anthropic_bad_request_does_not_fail_over() {
    let (bad, _) = serve(vec![Reply::Status(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#.into(),
    )])
    .await;
    let (good, seen_good) = serve(vec![Reply::Sse(text_stream())]).await;
    let err = open_stream(&[anthropic("a", &bad), provider("good", &good)], &request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Http { status: 400, .. }), "{err:?}");
    assert!(seen_good.lock().unwrap().requests.is_empty());
}

#[tokio::test]
async fn a_provider_that_stalls_mid_answer_ends_the_stream_as_stalled_and_is_hung_up_on() {
    // The first token, then silence with the connection open.
    let pieces = vec![frame(r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#)];
    let (url, seen) = serve(vec![Reply::SseThenWait(pieces)]).await;
    let stalling = Provider { idle_timeout: Duration::from_millis(150), ..provider("p", &url) };
    let mut stream = open_stream(&[stalling], &request()).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        collect(&mut stream).await,
        vec![Ok(StreamEvent::TextDelta("Hi".into())), Err(LlmError::Stalled { idle_ms: 150 })]
    );
    assert!(started.elapsed() < Duration::from_secs(2), "ended by the idle timeout, not by the server");
    assert_eq!(LlmError::Stalled { idle_ms: 150 }.code(), "llm_stalled");
    // The stream dropped its body: the upstream request is aborted.
    drop(stream);
    for _ in 0..50 {
        if seen.lock().unwrap().client_closed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the stalled provider's connection was not closed");
}
