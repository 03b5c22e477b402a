//! The `retrieve` workload: answers a question from a knowledge base with the passages that
//! match it best, citing them (docs/agents.md, "Templates"). The PaaS templates (tour guide,
//! tutor, customer service) are agents running this program over their deployer's files.
//!
//! **Knowledge bundle** (the agent package's data), UTF-8 text:
//!
//! ```text
//! vcity-retrieve/1
//! set top 3
//! set intro From the museum's notes:
//! set none No passage in the guide's notes matches that question.
//! passage rooms.md:12
//! title Egyptian sculpture
//! | The Rosetta Stone is in Room 4.
//! ```
//!
//! `set` lines configure the template (`top`, `intro`, `none`, and for the asking client
//! `model_server` and `model`); each passage has a source, an optional title (the heading it sits
//! under) and its text, every line behind `| ` so that no text line is ever read as a directive.
//! A call's input is the bundle with `question ...` as its second line ([`call_input`]).
//!
//! **Ranking: BM25** (Robertson and Zaragoza's Okapi BM25, k1 = 1.2, b = 0.75) over words:
//! lowercase letters and digits, English stop words dropped, a plural `-s` or `-ies` folded.
//! `idf = ln(1 + (N − df + 0.5) / (df + 0.5))`. Only passages sharing a word with the question
//! count; when none does, the answer says so (`matched: false`) rather than guess.
//!
//! **Answer**: the (at most three) sentences of the best passages that carry most of the
//! question's weight (the sum of the idf of the question's words they contain), in passage
//! order, after the template's intro, with their sources and scores. Logarithms are computed
//! here with + − × ÷ only, so the module and the native reference give the same bytes.

use crate::InputError;

/// The bundle's first line.
pub const MAGIC: &str = "vcity-retrieve/1";
/// The most passages a bundle may hold.
pub const MAX_PASSAGES: usize = 20_000;
/// A paragraph longer than this is cut at sentence ends into several passages, bytes.
pub const MAX_PASSAGE_BYTES: usize = 1_200;
/// Most sentences an answer quotes.
pub const MAX_SENTENCES: usize = 3;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// A template's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Passages returned.
    pub top: usize,
    /// Put before the quoted sentences.
    pub intro: String,
    /// The answer when nothing matches.
    pub none: String,
    /// An OpenAI-compatible server the asking client generates the answer with, if named.
    pub model_server: Option<String>,
    /// The model to ask for there.
    pub model: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            top: 3,
            intro: String::new(),
            none: "No passage in the knowledge base matches that question.".into(),
            model_server: None,
            model: None,
        }
    }
}

/// One passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Where it comes from: `path:line`.
    pub source: String,
    /// The heading it sits under, if any.
    pub title: Option<String>,
    /// Its text.
    pub text: String,
}

/// A knowledge bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Knowledge {
    /// Settings.
    pub config: Config,
    /// Passages in file order.
    pub passages: Vec<Passage>,
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Knowledge {
    /// Splits `files` (path, text) into passages: paragraphs separated by blank lines, under the
    /// last Markdown heading seen (`#` lines become titles), long ones cut at sentence ends.
    pub fn from_files(config: Config, files: &[(String, String)]) -> Knowledge {
        let mut passages = Vec::new();
        for (path, text) in files {
            let mut title: Option<String> = None;
            let mut paragraph: Vec<&str> = Vec::new();
            let mut start = 0usize;
            let mut flush = |paragraph: &mut Vec<&str>, start: usize, title: &Option<String>| {
                if paragraph.is_empty() {
                    return;
                }
                let text = one_line(&paragraph.join(" "));
                paragraph.clear();
                for chunk in chunks(&text) {
                    passages.push(Passage {
                        source: format!("{path}:{start}"),
                        title: title.clone(),
                        text: chunk,
                    });
                }
            };
            for (index, line) in text.lines().enumerate() {
                let trimmed = line.trim();
                if let Some(heading) = trimmed.strip_prefix('#') {
                    flush(&mut paragraph, start, &title);
                    let heading = one_line(heading.trim_start_matches('#'));
                    title = (!heading.is_empty()).then_some(heading);
                } else if trimmed.is_empty() {
                    flush(&mut paragraph, start, &title);
                } else {
                    if paragraph.is_empty() {
                        start = index + 1;
                    }
                    paragraph.push(trimmed);
                }
            }
            flush(&mut paragraph, start, &title);
        }
        Knowledge { config, passages }
    }

    /// The bundle's text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{MAGIC}\nset top {}\n", self.config.top);
        let mut set = |name: &str, value: &str| {
            if !value.is_empty() {
                out.push_str(&format!("set {name} {}\n", one_line(value)));
            }
        };
        set("intro", &self.config.intro);
        set("none", &self.config.none);
        set(
            "model_server",
            self.config.model_server.as_deref().unwrap_or(""),
        );
        set("model", self.config.model.as_deref().unwrap_or(""));
        for passage in &self.passages {
            out.push_str(&format!("passage {}\n", one_line(&passage.source)));
            if let Some(title) = &passage.title {
                out.push_str(&format!("title {}\n", one_line(title)));
            }
            for line in passage.text.lines() {
                out.push_str("| ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Reads a bundle or a call input: the knowledge and the question, if there is one.
    pub fn parse(text: &str) -> Result<(Knowledge, Option<String>), InputError> {
        let bad = |message: String| InputError(message);
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(bad(format!("the input does not start with {MAGIC}")));
        }
        let mut knowledge = Knowledge::default();
        let mut question = None;
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            if let Some(text) = line.strip_prefix("| ") {
                let passage = knowledge
                    .passages
                    .last_mut()
                    .ok_or_else(|| bad(format!("line {number}: text before any passage")))?;
                if !passage.text.is_empty() {
                    passage.text.push('\n');
                }
                passage.text.push_str(text);
            } else if line == "|" {
                // An empty text line.
            } else if let Some(text) = line.strip_prefix("question ") {
                question = Some(text.to_string());
            } else if let Some(source) = line.strip_prefix("passage ") {
                if knowledge.passages.len() >= MAX_PASSAGES {
                    return Err(bad(format!("more than {MAX_PASSAGES} passages")));
                }
                knowledge.passages.push(Passage {
                    source: source.to_string(),
                    title: None,
                    text: String::new(),
                });
            } else if let Some(title) = line.strip_prefix("title ") {
                let passage = knowledge
                    .passages
                    .last_mut()
                    .ok_or_else(|| bad(format!("line {number}: a title before any passage")))?;
                passage.title = Some(title.to_string());
            } else if let Some(setting) = line.strip_prefix("set ") {
                let (name, value) = setting.split_once(' ').unwrap_or((setting, ""));
                let config = &mut knowledge.config;
                match name {
                    "top" => {
                        config.top = value
                            .parse()
                            .ok()
                            .filter(|top| (1..=20).contains(top))
                            .ok_or_else(|| bad(format!("line {number}: top is 1 to 20")))?;
                    }
                    "intro" => config.intro = value.to_string(),
                    "none" => config.none = value.to_string(),
                    "model_server" => config.model_server = Some(value.to_string()),
                    "model" => config.model = Some(value.to_string()),
                    _ => return Err(bad(format!("line {number}: unknown setting {name:?}"))),
                }
            } else if !line.is_empty() {
                return Err(bad(format!("line {number}: not a directive: {line:?}")));
            }
        }
        Ok((knowledge, question))
    }
}

/// A call's input: `bundle` with the question as its second line.
pub fn call_input(bundle: &str, question: &str) -> Result<String, InputError> {
    let rest = bundle
        .strip_prefix(MAGIC)
        .and_then(|rest| rest.strip_prefix('\n'))
        .ok_or_else(|| InputError(format!("the package does not start with {MAGIC}")))?;
    let question = one_line(question);
    if question.is_empty() {
        return Err(InputError("the question is empty".into()));
    }
    Ok(format!("{MAGIC}\nquestion {question}\n{rest}"))
}

/// Cuts `text` at sentence ends into pieces of at most [`MAX_PASSAGE_BYTES`] (a single longer
/// sentence stays whole).
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for sentence in sentences(text) {
        if !current.is_empty() && current.len() + 1 + sentence.len() > MAX_PASSAGE_BYTES {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(sentence);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The sentences of `text`: cut after `.`, `?` or `!` followed by white space.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for index in 0..bytes.len() {
        let end = matches!(bytes[index], b'.' | b'?' | b'!')
            && bytes
                .get(index + 1)
                .is_none_or(|next| next.is_ascii_whitespace());
        if end {
            let sentence = text[start..=index].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = index + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had",
    "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not",
    "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own",
    "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs",
    "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
    "whom", "why", "will", "with", "would", "you", "your", "yours",
];

/// The words BM25 counts in `text`.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .map(fold)
        .filter(|word| word.chars().count() > 1 || word.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// Folds a plural: `galleries` → `gallery`, `rooms` → `room` (not `glass`, `bus`, `this`).
fn fold(word: String) -> String {
    if word.len() > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return word[..word.len() - 1].to_string();
    }
    word
}

/// ln(x) for x > 0 with + − × ÷ only: x = m·2^e with m in [1, 2), ln m = 2·atanh((m−1)/(m+1)).
fn ln(x: f64) -> f64 {
    const LN_2: f64 = std::f64::consts::LN_2;
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let z = (mantissa - 1.0) / (mantissa + 1.0);
    let z2 = z * z;
    let mut term = z;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..30 {
        sum += term / k;
        term *= z2;
        k += 2.0;
    }
    exponent as f64 * LN_2 + 2.0 * sum
}

/// One ranked passage.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Its position in the bundle.
    pub index: usize,
    /// Its BM25 score.
    pub score: f64,
}

/// The passages sharing a word with `question`, best first (ties: earlier first), at most `top`.
pub fn rank(knowledge: &Knowledge, question: &str, top: usize) -> (Vec<Hit>, Vec<(String, f64)>) {
    let query: Vec<String> = {
        let mut seen = Vec::new();
        for word in words(question) {
            if !seen.contains(&word) {
                seen.push(word);
            }
        }
        seen
    };
    let documents: Vec<Vec<String>> = knowledge
        .passages
        .iter()
        .map(|passage| {
            let mut all = passage.title.as_deref().map(words).unwrap_or_default();
            all.extend(words(&passage.text));
            all
        })
        .collect();
    let count = documents.len() as f64;
    let average = if documents.is_empty() {
        1.0
    } else {
        documents.iter().map(Vec::len).sum::<usize>() as f64 / count
    };
    let weights: Vec<(String, f64)> = query
        .iter()
        .map(|word| {
            let df = documents
                .iter()
                .filter(|document| document.contains(word))
                .count() as f64;
            (word.clone(), ln(1.0 + (count - df + 0.5) / (df + 0.5)))
        })
        .collect();
    let mut hits: Vec<Hit> = documents
        .iter()
        .enumerate()
        .filter_map(|(index, document)| {
            let length = document.len() as f64;
            let mut score = 0.0;
            for (word, idf) in &weights {
                let tf = document.iter().filter(|w| *w == word).count() as f64;
                if tf > 0.0 {
                    score += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average));
                }
            }
            (score > 0.0).then_some(Hit { index, score })
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    hits.truncate(top);
    (hits, weights)
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Answers the call in `input` (a bundle with a question); the output is JSON:
/// `{"matched", "question", "answer", "sources": [{"source", "score"}], "passages": [{"source",
/// "title", "text", "score"}]}`.
pub fn run(input: &[u8]) -> Result<Vec<u8>, InputError> {
    let text =
        std::str::from_utf8(input).map_err(|_| InputError("the input is not UTF-8 text".into()))?;
    let (knowledge, question) = Knowledge::parse(text)?;
    let question = question.ok_or_else(|| InputError("the input has no question line".into()))?;
    let (hits, weights) = rank(&knowledge, &question, knowledge.config.top);
    let mut out = String::new();
    out.push_str(&format!(
        "{{\"matched\":{},\"question\":{}",
        !hits.is_empty(),
        json_string(&question)
    ));
    if hits.is_empty() {
        out.push_str(&format!(
            ",\"answer\":{},\"sources\":[],\"passages\":[]}}\n",
            json_string(&knowledge.config.none)
        ));
        return Ok(out.into_bytes());
    }
    // Every sentence of the ranked passages that carries some of the question's weight.
    let mut candidates: Vec<(f64, usize, usize, &str)> = Vec::new();
    for (rank, hit) in hits.iter().enumerate() {
        for (position, sentence) in sentences(&knowledge.passages[hit.index].text)
            .into_iter()
            .enumerate()
        {
            let present = words(sentence);
            let weight: f64 = weights
                .iter()
                .filter(|(word, _)| present.contains(word))
                .map(|(_, idf)| idf)
                .sum();
            if weight > 0.0 {
                candidates.push((weight, rank, position, sentence));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    candidates.truncate(MAX_SENTENCES);
    candidates.sort_by_key(|candidate| (candidate.1, candidate.2));
    // A passage that matched only through its title still answers with its first sentence.
    if candidates.is_empty() {
        let first = sentences(&knowledge.passages[hits[0].index].text);
        if let Some(sentence) = first.first() {
            candidates.push((0.0, 0, 0, sentence));
        }
    }
    let quoted: Vec<&str> = candidates.iter().map(|candidate| candidate.3).collect();
    let answer = if knowledge.config.intro.is_empty() {
        quoted.join(" ")
    } else {
        format!("{} {}", knowledge.config.intro, quoted.join(" "))
    };
    let mut cited: Vec<usize> = Vec::new();
    for candidate in &candidates {
        if !cited.contains(&candidate.1) {
            cited.push(candidate.1);
        }
    }
    let sources: Vec<String> = cited
        .iter()
        .map(|rank| {
            let hit = &hits[*rank];
            format!(
                "{{\"source\":{},\"score\":\"{:.3}\"}}",
                json_string(&knowledge.passages[hit.index].source),
                hit.score
            )
        })
        .collect();
    let passages: Vec<String> = hits
        .iter()
        .map(|hit| {
            let passage = &knowledge.passages[hit.index];
            format!(
                "{{\"source\":{},\"title\":{},\"text\":{},\"score\":\"{:.3}\"}}",
                json_string(&passage.source),
                passage
                    .title
                    .as_deref()
                    .map_or("null".to_string(), json_string),
                json_string(&passage.text),
                hit.score
            )
        })
        .collect();
    out.push_str(&format!(
        ",\"answer\":{},\"sources\":[{}],\"passages\":[{}]}}\n",
        json_string(&answer),
        sources.join(","),
        passages.join(",")
    ));
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn museum() -> Knowledge {
        let files = vec![
            (
                "rooms.md".to_string(),
                "# Egyptian sculpture\n\nThe Rosetta Stone is in Room 4. It carries one decree in three scripts.\n\nRoom 4 also holds the bust of Ramesses II.\n\n# Greece\n\nThe Parthenon sculptures are in Room 18.\n".to_string(),
            ),
            (
                "visit.md".to_string(),
                "Opening hours are 10:00 to 17:00 every day. On Fridays galleries stay open until 20:30.\n\nTickets are free; special exhibitions are paid.\n".to_string(),
            ),
        ];
        Knowledge::from_files(
            Config {
                intro: "From the museum's notes:".into(),
                ..Config::default()
            },
            &files,
        )
    }

    fn answer(knowledge: &Knowledge, question: &str) -> String {
        let input = call_input(&knowledge.to_text(), question).expect("input");
        String::from_utf8(run(input.as_bytes()).expect("runs")).expect("utf8")
    }

    #[test]
    fn files_split_into_titled_passages_and_round_trip() {
        let knowledge = museum();
        assert_eq!(knowledge.passages.len(), 5);
        assert_eq!(knowledge.passages[0].source, "rooms.md:3");
        assert_eq!(
            knowledge.passages[0].title.as_deref(),
            Some("Egyptian sculpture")
        );
        assert_eq!(knowledge.passages[2].source, "rooms.md:9");
        assert_eq!(knowledge.passages[3].source, "visit.md:1");
        let (parsed, question) = Knowledge::parse(&knowledge.to_text()).expect("parses");
        assert_eq!(parsed, knowledge);
        assert_eq!(question, None);
    }

    #[test]
    fn the_best_passage_answers_with_its_source() {
        let knowledge = museum();
        let out = answer(&knowledge, "Where is the Rosetta Stone?");
        assert!(out.starts_with("{\"matched\":true"), "{out}");
        assert!(
            out.contains("\"answer\":\"From the museum's notes: The Rosetta Stone is in Room 4.\""),
            "{out}"
        );
        assert!(
            out.contains("\"sources\":[{\"source\":\"rooms.md:3\""),
            "{out}"
        );
        let out = answer(&knowledge, "When do the galleries close on Friday?");
        assert!(
            out.contains("\"sources\":[{\"source\":\"visit.md:1\""),
            "{out}"
        );
        assert!(out.contains("until 20:30"), "{out}");
    }

    #[test]
    fn an_unknown_question_says_no_passage_matched() {
        let knowledge = museum();
        let out = answer(&knowledge, "Who painted the Mona Lisa?");
        assert!(out.starts_with("{\"matched\":false"), "{out}");
        assert!(
            out.contains("No passage in the knowledge base matches"),
            "{out}"
        );
        assert!(out.contains("\"sources\":[]"), "{out}");
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(run(b"hello").is_err());
        assert!(run(format!("{MAGIC}\n| text\n").as_bytes()).is_err());
        assert!(run(format!("{MAGIC}\nset top 0\nquestion x\n").as_bytes()).is_err());
        assert!(
            run(format!("{MAGIC}\npassage a:1\n| text\n").as_bytes()).is_err(),
            "no question"
        );
        assert!(call_input("nope", "q").is_err());
        assert!(call_input(&museum().to_text(), "  ").is_err());
    }

    #[test]
    fn words_fold_plurals_and_drop_stop_words() {
        assert_eq!(
            words("The galleries' rooms, and THE glass bus!"),
            ["gallery", "room", "glass", "bus"]
        );
        assert_eq!(words("Room 4"), ["room", "4"]);
    }

    #[test]
    fn the_logarithm_is_close_to_the_library_one() {
        for x in [1e-9, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 1234.5678, 1e12] {
            assert!(
                (ln(x) - x.ln()).abs() < 1e-12 * x.ln().abs().max(1.0),
                "{x}"
            );
        }
    }
}
