//! The loop: messages + tool specs → LLM stream → AG-UI events as tokens arrive → server tools
//! executed and fed back → … until the model answers without tools, asks for a front-end
//! tool (the client runs it), or the step limit is reached. Always ends with RUN_FINISHED or
//! RUN_ERROR.

use crate::audit::{sha256_hex, Entry, Trail};
use crate::config::MAX_STEPS;
use crate::emitter::Emitter;
use crate::grounding::{self, Grounding};
use crate::turn::{Turn, TurnEvents};
use sba_agent_tools::ToolContext;
use sba_agui::{Event, Message, RunAgentInput};
use sba_config::DB_BINDING;
use sba_llm::{ChatMessage, ChatRequest, Provider, StreamEvent, ToolCall, ToolSpec};
use sba_pg::PgError;
use serde_json::{json, Value};
use worker::Env;

const SYSTEM_PROMPT: &str = "You are SBA, a business assistant. Answer concisely, in the language of the question. \
Use searchKb and getDocument for follow-up questions about the company's knowledge base, createTask to record \
follow-ups, and render to produce HTML.";

pub struct Run {
    pub env: Env,
    pub providers: Vec<Provider>,
    pub input: RunAgentInput,
    pub tenant: String,
    pub subject: String,
    pub claims: Value,
}

/// About four characters a token (English and Indonesian prose with GPT/Llama-style
/// tokenizers): the charge for an answer whose provider reported no usage.
fn estimate_tokens(chars: usize) -> i32 {
    i32::try_from(chars.div_ceil(4)).unwrap_or(i32::MAX)
}

fn prompt_chars(messages: &[ChatMessage]) -> usize {
    serde_json::to_string(messages).map_or(0, |m| m.len())
}

pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// How a run ended, when not with RUN_FINISHED: its RUN_ERROR code and message.
type Failure = (String, String);

pub async fn run(run: Run, emitter: &mut Emitter, trail: &mut Trail) {
    let started = now_ms();
    let (thread_id, run_id) = (run.input.thread_id.clone(), run.input.run_id.clone());
    emitter.emit(Event::RunStarted { thread_id: thread_id.clone(), run_id: run_id.clone() });
    emitter.flush().await;

    let outcome = converse(&run, emitter, trail).await;
    let status = if outcome.is_ok() { "finished" } else { "error" };
    match outcome {
        Ok(()) => emitter.emit(Event::RunFinished { thread_id, run_id, result: None }),
        Err((code, message)) => emitter.emit(Event::RunError { message, code: Some(code) }),
    }
    emitter.flush().await;
    trail.entries.push(run_entry(status, started));
}

/// Model turns and tool rounds until the model answers without tools, asks for a front-end
/// tool (the client runs it and starts a new run with the result), or the step limit.
async fn converse(run: &Run, emitter: &mut Emitter, trail: &mut Trail) -> Result<(), Failure> {
    // Grounding first: the sources reach the client before any text, and the prompt.
    let grounding = ground_question(run).await;
    emitter.emit(Event::Custom { name: SOURCES_EVENT.to_owned(), value: grounding.event_value() });
    let mut messages = vec![ChatMessage::System { content: format!("{SYSTEM_PROMPT}{}", grounding.prompt) }];
    messages.extend(run.input.messages.iter().filter_map(to_chat));
    let tools = tool_specs(&run.input);
    let mut state = run.input.state.clone().unwrap_or_else(|| json!({}));
    for step in 1..=MAX_STEPS {
        let turn = stream_turn(run, step, &messages, &tools, emitter, trail).await?;
        if turn.calls.is_empty() {
            return Ok(());
        }
        messages.push(ChatMessage::Assistant {
            content: (!turn.text.is_empty()).then_some(turn.text),
            tool_calls: turn.calls.clone(),
        });
        let asks_the_client = run_server_tools(run, &turn.calls, &mut messages, &mut state, emitter, trail).await;
        if asks_the_client {
            return Ok(());
        }
    }
    Err(("step_limit".to_owned(), format!("the run stopped after {MAX_STEPS} model steps")))
}

/// The AG-UI `CUSTOM` event carrying the sources an answer is grounded on.
pub const SOURCES_EVENT: &str = "sba.sources";

/// The tenant's sources for the user's latest message (see `grounding`).
async fn ground_question(run: &Run) -> Grounding {
    let question = run
        .input
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            Message::User { content, .. } => Some(content.text().into_owned()),
            _ => None,
        })
        .unwrap_or_default();
    let settings = grounding::Settings::from_env(&run.env);
    match grounding::retrieve(&run.env, &run.claims, &run.tenant, &question).await {
        Ok(candidates) => grounding::ground(candidates, &settings, true),
        Err(e) => {
            worker::console_log!(
                "{}",
                json!({"level": "warn", "msg": "grounding skipped: the knowledge base could not be read", "tenant": run.tenant, "error": e})
            );
            grounding::ground(Vec::new(), &settings, false)
        }
    }
}

/// Our tools and the client's, as the model sees them.
fn tool_specs(input: &RunAgentInput) -> Vec<ToolSpec> {
    let ours = sba_agent_tools::specs().into_iter().map(|s| ToolSpec {
        name: s.name.to_owned(),
        description: s.description.to_owned(),
        parameters: s.parameters,
    });
    let clients = input.tools.iter().map(|t| ToolSpec {
        name: t.name.clone(),
        description: t.description.clone().unwrap_or_default(),
        parameters: t.parameters.clone().unwrap_or_else(|| json!({"type": "object"})),
    });
    ours.chain(clients).collect()
}

/// One model turn, streamed to the client as it arrives, with its audit entry and its token
/// charge (the provider's count, or an estimate when it reported none).
async fn stream_turn(
    run: &Run,
    step: usize,
    messages: &[ChatMessage],
    tools: &[ToolSpec],
    emitter: &mut Emitter,
    trail: &mut Trail,
) -> Result<Turn, Failure> {
    let step_name = format!("llm:{step}");
    emitter.emit(Event::StepStarted { step_name: step_name.clone() });
    let step_started = now_ms();
    let request = ChatRequest {
        messages: messages.to_vec(),
        tools: tools.to_vec(),
        max_tokens: Some(1024),
        temperature: Some(0.2),
    };
    let mut stream = match sba_llm::open_stream(&run.providers, &request).await {
        Ok(stream) => stream,
        Err(e) => {
            trail.entries.push(llm_entry(
                &step_name,
                "error",
                step_started,
                None,
                json!({"code": e.code(), "error": e.to_string()}),
            ));
            emitter.emit(Event::StepFinished { step_name });
            return Err((e.code().to_owned(), format!("no language model could be reached: {e}")));
        }
    };
    let provider = stream.provider.clone();
    // This step's trail entry, kept current while the answer streams: if the run is cut short
    // (its client gone too long, its deadline) the entry stays as it was, with the tokens
    // streamed so far.
    let prompt_estimate = estimate_tokens(prompt_chars(messages));
    let slot = trail.entries.len();
    let mut provisional =
        llm_entry(&step_name, "aborted", step_started, Some(&provider), json!({"tokensEstimated": true}));
    provisional.prompt_tokens = Some(prompt_estimate);
    provisional.completion_tokens = Some(0);
    trail.entries.push(provisional);

    let mut turn = TurnEvents::new(new_id("t"));
    let (mut usage, mut failure) = (None, None);
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Finish { usage: reported, .. }) => usage = reported.or(usage),
            Ok(event) => turn.on(&event).into_iter().for_each(|e| emitter.emit(e)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        if let Some(entry) = trail.entries.get_mut(slot) {
            entry.completion_tokens = Some(estimate_tokens(turn.streamed_chars()));
            entry.duration_ms = (now_ms() - step_started) as i32;
        }
        // The log trails the stream by at most a flush interval, so a client that resumes a
        // live run follows it closely.
        emitter.flush_if_due().await;
    }
    drop(stream);
    let streamed_chars = turn.streamed_chars();
    let (closing, turn) = turn.finish();
    closing.into_iter().for_each(|e| emitter.emit(e));
    let (prompt, completion, estimated) = match usage {
        Some(u) => (u.prompt_tokens as i32, u.completion_tokens as i32, false),
        None => (prompt_estimate, estimate_tokens(streamed_chars), true),
    };
    let detail = if estimated { json!({"tokensEstimated": true}) } else { json!({}) };
    let mut entry =
        llm_entry(&step_name, if failure.is_some() { "error" } else { "ok" }, step_started, Some(&provider), detail);
    entry.prompt_tokens = Some(prompt);
    entry.completion_tokens = Some(completion);
    trail.entries[slot] = entry;
    emitter.emit(Event::StepFinished { step_name });
    emitter.flush().await;
    match failure {
        None => Ok(turn),
        Some(e) => {
            let code = if matches!(e, sba_llm::LlmError::Stalled { .. }) { "llm_stalled" } else { "llm_stream_failed" };
            Err((code.to_owned(), format!("the language model stream failed: {e}")))
        }
    }
}

/// Runs the server tools among `calls`, each in its own step, their results fed back to the
/// model. True when a call is the client's own tool (the client runs it).
async fn run_server_tools(
    run: &Run,
    calls: &[ToolCall],
    messages: &mut Vec<ChatMessage>,
    state: &mut Value,
    emitter: &mut Emitter,
    trail: &mut Trail,
) -> bool {
    let mut asks_the_client = false;
    for call in calls {
        if !sba_agent_tools::is_server_tool(&call.name) {
            asks_the_client = true;
            continue;
        }
        let step_name = format!("tool:{}", call.name);
        emitter.emit(Event::StepStarted { step_name: step_name.clone() });
        let tool_started = now_ms();
        let result = run_tool(run, call).await;
        emitter.emit(Event::ToolCallResult {
            message_id: new_id("tool"),
            tool_call_id: call.id.clone(),
            content: result.content.clone(),
            role: Some("tool".into()),
        });
        trail.entries.push(Entry {
            kind: "tool",
            name: call.name.clone(),
            arguments_sha256: Some(sha256_hex(&call.arguments)),
            status: if result.is_error { "error".into() } else { "ok".into() },
            duration_ms: (now_ms() - tool_started) as i32,
            prompt_tokens: None,
            completion_tokens: None,
            detail: result.summary.clone(),
        });
        if call.name == "createTask" && !result.is_error {
            if let (Some(obj), Ok(task)) = (state.as_object_mut(), serde_json::from_str::<Value>(&result.content)) {
                if let Some(list) = obj.entry("tasks").or_insert_with(|| json!([])).as_array_mut() {
                    list.push(task);
                }
            }
            emitter.emit(Event::StateSnapshot { snapshot: state.clone() });
        }
        emitter.emit(Event::StepFinished { step_name });
        emitter.flush().await;
        messages.push(ChatMessage::Tool { tool_call_id: call.id.clone(), content: result.content });
    }
    asks_the_client
}

/// The audit entry of the run as a whole: `finished`, `error` (it ended in RUN_ERROR) or
/// `aborted` (cut short from outside the orchestrator).
pub(crate) fn run_entry(status: &str, started: f64) -> Entry {
    Entry {
        kind: "run",
        name: "run".into(),
        arguments_sha256: None,
        status: status.to_owned(),
        duration_ms: (now_ms() - started) as i32,
        prompt_tokens: None,
        completion_tokens: None,
        detail: json!({}),
    }
}

fn llm_entry(step: &str, status: &str, started: f64, provider: Option<&str>, detail: Value) -> Entry {
    let mut detail = detail;
    if let (Some(p), Some(obj)) = (provider, detail.as_object_mut()) {
        obj.insert("provider".into(), json!(p));
    }
    Entry {
        kind: "llm",
        name: step.to_owned(),
        arguments_sha256: None,
        status: status.to_owned(),
        duration_ms: (now_ms() - started) as i32,
        prompt_tokens: None,
        completion_tokens: None,
        detail,
    }
}

async fn run_tool(run: &Run, call: &ToolCall) -> sba_agent_tools::ToolResult {
    let ctx =
        ToolContext { tenant_id: run.tenant.clone(), subject: run.subject.clone(), run_id: run.input.run_id.clone() };
    let (claims, tenant, name, args) =
        (run.claims.clone(), run.tenant.clone(), call.name.clone(), call.arguments.clone());
    let result = sba_pg::with_client(&run.env, DB_BINDING, sba_config::DB_TIMEOUT, |mut client| async move {
        let tx = sba_rls::begin_as_tenant(&mut client, &claims, &tenant).await?;
        let result = sba_agent_tools::call(&tx, &ctx, &name, &args).await;
        tx.commit().await?;
        Ok::<_, PgError>(result)
    })
    .await;
    result.unwrap_or_else(|e| sba_agent_tools::ToolResult {
        content: json!({"error": {"code": "tool_failed", "message": "the tool could not reach its data store"}})
            .to_string(),
        is_error: true,
        summary: json!({"error": e.to_string()}),
    })
}

fn to_chat(message: &Message) -> Option<ChatMessage> {
    match message {
        Message::User { content, .. } => Some(ChatMessage::User { content: content.text().into_owned() }),
        Message::System { content, .. } | Message::Developer { content, .. } => {
            Some(ChatMessage::System { content: content.clone() })
        }
        Message::Assistant { content, tool_calls, .. } => Some(ChatMessage::Assistant {
            content: content.clone(),
            tool_calls: tool_calls
                .iter()
                .flatten()
                .map(|c| ToolCall {
                    id: c.id.clone(),
                    name: c.function.name.clone(),
                    arguments: c.function.arguments.clone(),
                })
                .collect(),
        }),
        Message::Tool { content, tool_call_id, .. } => {
            Some(ChatMessage::Tool { tool_call_id: tool_call_id.clone(), content: content.clone() })
        }
    }
}
