//! `vcity template ...`: the PaaS solution templates (whitepaper §2.2.2, §5.1.3; docs/agents.md,
//! "Templates"). A template is a ready-made agent: the `retrieve` program over the deployer's
//! knowledge files, with its own intro, its own "I do not know" and its terms. Deploying one
//! packages the files as passages, uploads the package and the program, and mints the agent;
//! asking one calls it on the network and prints the answer with its sources, or, when the
//! deployer named a model server, the answer that server generates from the same passages.

use crate::agent::{build_package, invoke, live_version, mint_message, result, send, usd, Call};
use crate::job::run::OutputStore;
use crate::shared::config::{parse_duration, Settings};
use crate::shared::print_json;
use anyhow::{bail, Context as _};
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use std::path::Path;
use vcity_kernels::retrieve::{call_input, Config, Knowledge};
use vcity_sdk::package::{Manifest, Package, ProgramSpec};
use vcity_sdk::{Client, Keyring};
use vcity_types::agents::SetLicenceTerms;
use vcity_types::event::Event;
use vcity_types::trust::VerificationLevel;
use vcity_types::tx::Message;
use vcity_types::Denom;

/// The file of a template's package that holds its knowledge bundle.
pub const KNOWLEDGE_FILE: &str = "knowledge.txt";

/// A template shipped with this release (the folders under `templates/`).
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Its name on the command line.
    pub key: &'static str,
    /// `template.toml`.
    pub spec: &'static str,
    /// The sample knowledge: (path, text).
    pub knowledge: &'static [(&'static str, &'static str)],
    /// `questions.toml`.
    pub questions: &'static str,
}

macro_rules! file {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/",
            $path
        ))
    };
}

/// Every template.
pub const TEMPLATES: [Template; 3] = [
    Template {
        key: "tour-guide",
        spec: file!("tour-guide/template.toml"),
        knowledge: &[
            ("collection.md", file!("tour-guide/knowledge/collection.md")),
            ("visiting.md", file!("tour-guide/knowledge/visiting.md")),
        ],
        questions: file!("tour-guide/questions.toml"),
    },
    Template {
        key: "tutor",
        spec: file!("tutor/template.toml"),
        knowledge: &[
            ("fractions.md", file!("tutor/knowledge/fractions.md")),
            (
                "photosynthesis.md",
                file!("tutor/knowledge/photosynthesis.md"),
            ),
        ],
        questions: file!("tutor/questions.toml"),
    },
    Template {
        key: "customer-service",
        spec: file!("customer-service/template.toml"),
        knowledge: &[
            ("account.md", file!("customer-service/knowledge/account.md")),
            ("returns.md", file!("customer-service/knowledge/returns.md")),
            (
                "shipping.md",
                file!("customer-service/knowledge/shipping.md"),
            ),
        ],
        questions: file!("customer-service/questions.toml"),
    },
];

/// A template's `template.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Discovery tags.
    pub tags: Vec<String>,
    /// What answers start with.
    pub intro: String,
    /// The answer when the knowledge holds none.
    pub none: String,
    /// Passages returned.
    pub top: usize,
    /// Usage terms.
    pub usage_terms: String,
}

impl Template {
    /// The template called `key`.
    pub fn named(key: &str) -> anyhow::Result<Template> {
        TEMPLATES
            .into_iter()
            .find(|template| template.key == key)
            .with_context(|| {
                let keys: Vec<_> = TEMPLATES.iter().map(|template| template.key).collect();
                format!("no template {key:?} (there are {})", keys.join(", "))
            })
    }

    /// Its spec.
    pub fn spec(&self) -> Spec {
        toml::from_str(self.spec).expect("the shipped template.toml files read")
    }

    /// Questions to try on its sample knowledge.
    pub fn sample_questions(&self) -> Vec<String> {
        let questions: toml::Value =
            toml::from_str(self.questions).expect("the shipped questions.toml files read");
        questions["question"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|question| question["ask"].as_str().map(str::to_string))
            .collect()
    }

    /// Its sample knowledge as files.
    pub fn sample(&self) -> Vec<(String, String)> {
        self.knowledge
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect()
    }
}

/// `vcity template ...`
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// The templates of this release.
    List,
    /// Deploy a template over your knowledge files as a new agent NFT you hold.
    Deploy {
        /// tour-guide, tutor or customer-service.
        template: String,
        /// A folder of Markdown or text files [default: the template's sample knowledge].
        #[arg(long)]
        knowledge: Option<std::path::PathBuf>,
        /// The agent's name [default: the template's].
        #[arg(long)]
        name: Option<String>,
        /// Sell single calls at this fee, USD (omit: only you and licensees may call it).
        #[arg(long)]
        per_call: Option<String>,
        /// Your royalty on later sales, licences and calls, basis points.
        #[arg(long, default_value_t = 0)]
        royalty_bps: u32,
        /// Copyright line.
        #[arg(long, default_value = "")]
        copyright: String,
        /// An OpenAI-compatible server (e.g. http://127.0.0.1:8000) that askers' clients have
        /// generate answers from the retrieved passages.
        #[arg(long, requires = "model")]
        model_server: Option<String>,
        /// The model to ask the server for.
        #[arg(long)]
        model: Option<String>,
        /// Your keyring name.
        #[arg(long)]
        from: String,
    },
    /// Ask a deployed template a question: it runs on the network as a call of the agent.
    Ask {
        /// The agent.
        agent: u64,
        /// The question.
        question: String,
        /// The most you pay as the call fee, USD [default: the agent's fee now].
        #[arg(long)]
        max_call_fee: Option<String>,
        /// Most USD per CU for the job.
        #[arg(long, default_value = "0.10")]
        max_price_per_cu: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "120s")]
        timeout: String,
        /// Your keyring name.
        #[arg(long)]
        from: String,
    },
}

/// The Markdown and text files under `dir`, with paths relative to it, sorted.
pub fn read_knowledge(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
                continue;
            }
            let text_file = path
                .extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| matches!(extension, "md" | "markdown" | "txt"));
            if !text_file {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
            out.push((relative, text));
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    if files.is_empty() {
        bail!("{} holds no .md or .txt files", dir.display());
    }
    Ok(files)
}

/// The knowledge bundle a deployment packages.
pub fn bundle(
    spec: &Spec,
    files: &[(String, String)],
    model_server: Option<String>,
    model: Option<String>,
) -> anyhow::Result<Knowledge> {
    let knowledge = Knowledge::from_files(
        Config {
            top: spec.top,
            intro: spec.intro.clone(),
            none: spec.none.clone(),
            model_server,
            model,
        },
        files,
    );
    if knowledge.passages.is_empty() {
        bail!("the knowledge files hold no text");
    }
    Ok(knowledge)
}

/// Runs a template command.
pub fn template(settings: &Settings, command: TemplateCommand, json: bool) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    match command {
        TemplateCommand::List => {
            let specs: Vec<serde_json::Value> = TEMPLATES
                .iter()
                .map(|template| {
                    let spec = template.spec();
                    serde_json::json!({
                        "template": template.key,
                        "name": spec.name,
                        "description": spec.description,
                        "tags": spec.tags,
                        "sample_questions": template.sample_questions(),
                    })
                })
                .collect();
            if json {
                return print_json(&specs);
            }
            for spec in specs {
                println!(
                    "{:<18} {}",
                    spec["template"].as_str().unwrap_or_default(),
                    spec["description"].as_str().unwrap_or_default()
                );
                for question in spec["sample_questions"].as_array().into_iter().flatten() {
                    println!(
                        "{:<18}   e.g. {}",
                        "",
                        question.as_str().unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        TemplateCommand::Deploy {
            template,
            knowledge,
            name,
            per_call,
            royalty_bps,
            copyright,
            model_server,
            model,
            from,
        } => {
            let ring = Keyring::open(&settings.keyring_dir())?;
            let key = ring.get(&from)?.signing_key()?;
            let template = Template::named(&template)?;
            let files = match &knowledge {
                Some(dir) => read_knowledge(dir)?,
                None => template.sample(),
            };
            let deployed = deploy(
                &client,
                &key,
                &template,
                &files,
                Deployment {
                    name,
                    per_call_usd: per_call.as_deref().map(usd).transpose()?,
                    royalty_bps,
                    copyright,
                    model_server,
                    model,
                },
            )?;
            if json {
                return print_json(&serde_json::json!({
                    "ok": true,
                    "agent_id": deployed.agent_id,
                    "template": template.key,
                    "passages": deployed.passages,
                    "files": files.len(),
                    "package_hash": deployed.program.package_hash,
                    "module_hash": deployed.program.module_hash,
                }));
            }
            println!(
                "deployed {} as agent {}: {} passages from {} files, package {}",
                template.key,
                deployed.agent_id,
                deployed.passages,
                files.len(),
                deployed.program.package_hash
            );
            println!(
                "ask it: vcity template ask {} \"your question\" --from NAME",
                deployed.agent_id
            );
            Ok(())
        }
        TemplateCommand::Ask {
            agent,
            question,
            max_call_fee,
            max_price_per_cu,
            timeout,
            from,
        } => {
            let ring = Keyring::open(&settings.keyring_dir())?;
            let key = ring.get(&from)?.signing_key()?;
            let store = OutputStore::new(settings.home.join("outputs"));
            let answer = ask(
                &client,
                &key,
                &store,
                agent,
                &question,
                max_call_fee.as_deref().map(usd).transpose()?,
                usd(&max_price_per_cu)?,
                parse_duration(&timeout)?,
            )?;
            if json {
                return print_json(&answer);
            }
            println!("{}", answer["answer"].as_str().unwrap_or_default());
            if let Some(by) = answer["generated_by"].as_str() {
                println!("(generated by {by} from the passages below)");
            }
            for source in answer["sources"].as_array().into_iter().flatten() {
                println!(
                    "  source: {} (score {})",
                    source["source"].as_str().unwrap_or_default(),
                    source["score"].as_str().unwrap_or_default()
                );
            }
            println!(
                "job {}, call fee {} USD",
                answer["job_id"],
                answer["call_fee_usd"].as_str().unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// How a template is deployed.
#[derive(Debug, Default)]
pub struct Deployment {
    /// The agent's name [default: the template's].
    pub name: Option<String>,
    /// Single calls sold at this fee.
    pub per_call_usd: Option<vcity_types::Amount>,
    /// The creator's royalty.
    pub royalty_bps: u32,
    /// Copyright line.
    pub copyright: String,
    /// The model server askers' clients generate answers with.
    pub model_server: Option<String>,
    /// Its model.
    pub model: Option<String>,
}

/// A deployed template.
#[derive(Debug)]
pub struct Deployed {
    /// The agent.
    pub agent_id: u64,
    /// Its version 1.
    pub program: vcity_types::agents::AgentProgram,
    /// Passages in its knowledge.
    pub passages: usize,
}

/// Packages `files` as `template`'s knowledge, uploads the package and the program, mints the
/// agent from `key`'s account, and sets its call fee if there is one.
pub fn deploy(
    client: &Client,
    key: &SigningKey,
    template: &Template,
    files: &[(String, String)],
    deployment: Deployment,
) -> anyhow::Result<Deployed> {
    let spec = template.spec();
    let knowledge = bundle(&spec, files, deployment.model_server, deployment.model)?;
    let manifest = Manifest {
        name: deployment.name.unwrap_or_else(|| spec.name.clone()),
        description: spec.description.clone(),
        tags: spec.tags.clone(),
        copyright: deployment.copyright,
        usage_terms: spec.usage_terms.clone(),
        royalty_bps: deployment.royalty_bps,
        program: ProgramSpec {
            workload: Some("retrieve".into()),
            module: None,
            module_hash: None,
        },
        files: Vec::new(),
    };
    let (package, module) = build_package(
        &manifest,
        Path::new("."),
        &[(KNOWLEDGE_FILE, knowledge.to_text().into_bytes())],
    )?;
    let program = crate::agent::upload(client, &package, &module)?;
    let receipt = send(client, key, vec![mint_message(&manifest, program.clone())])?;
    let agent_id = receipt
        .events
        .iter()
        .find_map(|event| match event {
            Event::AgentMinted { agent_id, .. } => Some(*agent_id),
            _ => None,
        })
        .context("the mint's receipt names no agent")?;
    if let Some(fee) = deployment.per_call_usd {
        let terms = Message::SetLicenceTerms(SetLicenceTerms {
            agent_id,
            offers: Vec::new(),
            per_call_usd: Some(fee),
        });
        send(client, key, vec![terms])?;
    }
    Ok(Deployed {
        agent_id,
        program,
        passages: knowledge.passages.len(),
    })
}

/// Asks deployed template `agent` a question from `key`'s account: the program's JSON answer
/// with `job_id` and `call_fee_usd`, and, when the deployer named a model server, the answer it
/// generated from the passages (`generated_by`; the passages' own answer stays in
/// `retrieved_answer`).
#[allow(clippy::too_many_arguments)]
pub fn ask(
    client: &Client,
    key: &SigningKey,
    store: &OutputStore,
    agent: u64,
    question: &str,
    max_call_fee: Option<vcity_types::Amount>,
    max_price_per_cu_usd: vcity_types::Amount,
    timeout: std::time::Duration,
) -> anyhow::Result<serde_json::Value> {
    let view = client.agent(agent)?;
    let program = live_version(&view, 0)?;
    let package = Package::from_bytes(
        &client
            .blob(&program.package_hash)
            .context("fetching the agent's package")?,
    )?;
    let bundle = package
        .files
        .get(KNOWLEDGE_FILE)
        .with_context(|| format!("agent {agent} is not a template (no {KNOWLEDGE_FILE})"))?;
    let bundle = std::str::from_utf8(bundle).context("the knowledge is not UTF-8")?;
    let (knowledge, _) = Knowledge::parse(bundle).map_err(|error| anyhow::anyhow!(error.0))?;
    let input = call_input(bundle, question).map_err(|error| anyhow::anyhow!(error.0))?;
    let job_id = invoke(
        client,
        key,
        Call {
            agent_id: agent,
            version: 0,
            input: input.into_bytes(),
            max_call_fee,
            max_cu_ppm: 1_000_000,
            max_price_per_cu_usd,
            max_duration_s: 120,
            verification: VerificationLevel::Standard,
        },
    )?;
    let output = result(client, key, store, job_id, timeout)?;
    let mut answer: serde_json::Value =
        serde_json::from_slice(&output).context("the program's answer is not JSON")?;
    answer["job_id"] = job_id.into();
    let call = client.agent_call(job_id)?;
    answer["call_fee_usd"] = call.fee_usd.to_decimal(Denom::Usd).into();
    let matched = answer["matched"].as_bool().unwrap_or(false);
    if let (true, Some(server), Some(model)) = (
        matched,
        knowledge.config.model_server.as_deref(),
        knowledge.config.model.as_deref(),
    ) {
        match generate(server, model, question, &answer) {
            Ok(text) => {
                answer["retrieved_answer"] = answer["answer"].clone();
                answer["answer"] = text.into();
                answer["generated_by"] = format!("{model} at {server}").into();
            }
            Err(error) => {
                eprintln!(
                    "the model server {server} did not answer ({error:#}); showing the passages' answer"
                );
            }
        }
    }
    Ok(answer)
}

/// Asks an OpenAI-compatible server for an answer grounded in the retrieved passages.
fn generate(
    server: &str,
    model: &str,
    question: &str,
    retrieved: &serde_json::Value,
) -> anyhow::Result<String> {
    let mut context = String::new();
    for passage in retrieved["passages"].as_array().into_iter().flatten() {
        context.push_str(&format!(
            "[{}] {}\n",
            passage["source"].as_str().unwrap_or_default(),
            passage["text"].as_str().unwrap_or_default()
        ));
    }
    let body = serde_json::json!({
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "Answer only from the passages given, in a few sentences, and cite each passage you use by its [source]. If they do not answer the question, say so."},
            {"role": "user", "content": format!("Passages:\n{context}\nQuestion: {question}")},
        ],
    });
    let url = format!("{}/v1/chat/completions", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .send_json(&body)
        .with_context(|| format!("POST {url}"))?;
    let reply: serde_json::Value = response
        .body_mut()
        .read_json()
        .context("the model server's reply is not JSON")?;
    reply["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_string)
        .context("the model server's reply has no choices[0].message.content")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Questions {
        question: Vec<Question>,
    }

    #[derive(Debug, Deserialize)]
    struct Question {
        ask: String,
        source: Option<String>,
        #[serde(default = "yes")]
        matched: bool,
    }

    fn yes() -> bool {
        true
    }

    /// A one-request OpenAI-compatible server: answers `reply` as the first choice's content and
    /// hands back the request it received.
    fn fake_model_server(reply: &'static str) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("a request");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("a header");
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().expect("a length");
                }
                request.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("the body");
            request.push_str(&String::from_utf8_lossy(&body));
            let answer = serde_json::json!({
                "choices": [{"message": {"role": "assistant", "content": reply}}]
            })
            .to_string();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .expect("answers");
            request
        });
        (url, handle)
    }

    #[test]
    fn a_model_server_generates_from_the_retrieved_passages() {
        let (url, request) = fake_model_server("The canoe, about 800 BC [collection.md:8].");
        let retrieved = serde_json::json!({
            "passages": [{"source": "collection.md:8", "text": "The oldest object is a canoe."}],
        });
        let text =
            generate(&url, "tiny", "What is the oldest object?", &retrieved).expect("generates");
        assert_eq!(text, "The canoe, about 800 BC [collection.md:8].");
        let request = request.join().expect("served");
        assert!(
            request.starts_with("POST /v1/chat/completions"),
            "{request}"
        );
        let (_, body) = request.split_once("\r\n\r\n").expect("a body");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["model"], "tiny");
        assert_eq!(
            body["messages"][1]["content"],
            "Passages:\n[collection.md:8] The oldest object is a canoe.\n\nQuestion: What is the oldest object?"
        );
        // A server that is not there is an error, not a made-up answer.
        assert!(generate("http://127.0.0.1:1", "tiny", "q", &retrieved).is_err());
    }

    /// The shipped files are the embedded ones, so the repo's templates/ folder and the binary
    /// agree.
    #[test]
    fn embedded_templates_are_the_repo_folders() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        for template in TEMPLATES {
            let dir = root.join(template.key);
            let files = read_knowledge(&dir.join("knowledge")).expect("knowledge");
            assert_eq!(files, template.sample(), "{}", template.key);
            template.spec();
        }
    }

    /// Every template answers its shipped questions from the expected source, and admits what
    /// its notes do not cover, on the native program (the executor's tests compare the module's
    /// output with it on an example call; the end-to-end test asks the module itself).
    #[test]
    fn every_template_answers_its_questions_from_the_expected_sources() {
        for template in TEMPLATES {
            let spec = template.spec();
            let knowledge = bundle(&spec, &template.sample(), None, None).expect("bundle");
            let questions: Questions = toml::from_str(template.questions).expect("questions");
            assert!(questions.question.len() >= 5);
            for question in questions.question {
                let input = call_input(&knowledge.to_text(), &question.ask).expect("input");
                let output = vcity_kernels::retrieve::run(input.as_bytes()).expect("answers");
                let answer: serde_json::Value = serde_json::from_slice(&output).expect("json");
                assert_eq!(
                    answer["matched"].as_bool(),
                    Some(question.matched),
                    "{}: {:?} → {answer}",
                    template.key,
                    question.ask
                );
                let text = answer["answer"].as_str().expect("answer");
                if question.matched {
                    assert!(text.starts_with(&spec.intro), "{text}");
                    assert_eq!(
                        answer["sources"][0]["source"].as_str(),
                        question.source.as_deref(),
                        "{}: {:?} → {answer}",
                        template.key,
                        question.ask
                    );
                } else {
                    assert_eq!(text, spec.none);
                }
            }
        }
    }
}
