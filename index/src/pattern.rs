//! Wildcard and fuzzy plate patterns.
//!
//! * [`Wildcard`]: `*` matches any run of characters (including none), `?` exactly one
//!   character, every other character is a literal. [`Wildcard::matches`] compares literals
//!   exactly; [`Wildcard::matches_canonical`] compares them after OCR canonicalization
//!   ([`crate::ocr`]), a necessary condition used to search an index of canonical forms.
//! * [`Fuzzy`]: plates within `max_edits` (0, 1 or 2) insertions, deletions or
//!   substitutions of a query, where a substitution inside an OCR confusion class is free.
//!   This equals plain Levenshtein distance over canonical forms (proof in [`crate::ocr`]).
//!
//! Both implement [`fst::Automaton`] over canonical bytes so the plate dictionary can run
//! them against FSTs of canonical plates: the wildcard as a bit-parallel NFA simulation
//! (one `u64` bit per pattern position), the fuzzy query as a Levenshtein DP row that
//! stops the FST walk as soon as no cell of the row is within `max_edits`.
//!
//! Pattern text is normalized like plates: upper-cased, spaces/whitespace, `-` and `.`
//! removed; what remains must be `A-Z`, `0-9`, `*` or `?`.

use crate::ocr::canonical_byte;

/// Maximum number of characters of a plate, and of literal plus `?` characters of a pattern.
pub const MAX_PLATE_LEN: usize = 16;

/// Highest supported `max_edits` of a fuzzy search.
pub const MAX_EDITS: u8 = 2;

/// Why a pattern was refused. The messages are meant for the investigator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing left after normalization.
    #[error("the pattern is empty: type at least one letter or digit")]
    Empty,
    /// Only `*` and `?`: the pattern would match (nearly) every plate.
    #[error(
        "the pattern has no letter or digit: a pattern of only '*' and '?' would match every plate"
    )]
    NoLiteral,
    /// A character other than letters, digits, `*`, `?` (and the ignored separators).
    #[error(
        "character {0:?} is not allowed: use letters, digits, '*' (any run of characters) and \
         '?' (exactly one character)"
    )]
    BadChar(char),
    /// More than [`MAX_PLATE_LEN`] letters, digits and `?`.
    #[error("the pattern is too long: at most {max} letters, digits and '?', got {got}")]
    TooLong {
        /// Letters, digits and `?` in the pattern.
        got: usize,
        /// The limit, [`MAX_PLATE_LEN`].
        max: usize,
    },
    /// `max_edits` above [`MAX_EDITS`].
    #[error("max_edits {0} is not supported: use 0, 1 or 2")]
    MaxEdits(u8),
}

/// Normalizes pattern or plate text: upper-case, drop whitespace, `-` and `.`; refuse any
/// remaining character that is not `A-Z`, `0-9` or (if `wildcards`) `*` / `?`.
fn normalize(text: &str, wildcards: bool) -> Result<Vec<u8>, PatternError> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() || c == '-' || c == '.' {
            continue;
        }
        let u = c.to_ascii_uppercase();
        match u {
            'A'..='Z' | '0'..='9' => out.push(u as u8),
            '*' | '?' if wildcards => out.push(u as u8),
            _ => return Err(PatternError::BadChar(c)),
        }
    }
    Ok(out)
}

/// One parsed wildcard token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Lit(u8),
    One,
    Star,
}

/// Bit-parallel NFA of a token list. Bit `i` of a state means "the first `i` tokens have
/// matched the input so far"; bit `tokens.len()` is the accepting position.
#[derive(Clone)]
struct Nfa {
    /// `accept[b]`: bits `i` whose token `i` consumes byte `b` and advances (literal or `?`).
    accept: Box<[u64; 256]>,
    /// Bits of `*` tokens (which consume any byte and stay).
    star: u64,
    start: u64,
    last: u64,
    /// The bit of a trailing `*` (0 if the pattern does not end in `*`).
    trailing_star: u64,
}

impl Nfa {
    fn new(tokens: &[Token], canonical: bool) -> Nfa {
        let mut accept = Box::new([0u64; 256]);
        let mut star = 0u64;
        for (i, t) in tokens.iter().enumerate() {
            let bit = 1u64 << i;
            match *t {
                Token::Star => star |= bit,
                Token::One => accept.iter_mut().for_each(|m| *m |= bit),
                Token::Lit(c) => {
                    if canonical {
                        let cc = canonical_byte(c);
                        for b in 0..=255u8 {
                            if canonical_byte(b) == cc {
                                accept[b as usize] |= bit;
                            }
                        }
                    } else {
                        accept[c as usize] |= bit;
                    }
                }
            }
        }
        let n = tokens.len();
        let trailing_star = match tokens.last() {
            Some(Token::Star) => 1u64 << (n - 1),
            _ => 0,
        };
        let mut nfa = Nfa {
            accept,
            star,
            start: 0,
            last: 1u64 << n,
            trailing_star,
        };
        nfa.start = nfa.close(1);
        nfa
    }

    /// Epsilon closure: a `*` may match the empty run. Stars never follow each other (they
    /// are collapsed at parse time), so one step is enough.
    #[inline]
    fn close(&self, s: u64) -> u64 {
        s | ((s & self.star) << 1)
    }

    #[inline]
    fn step(&self, s: u64, b: u8) -> u64 {
        self.close(((s & self.accept[b as usize]) << 1) | (s & self.star))
    }

    fn run(&self, input: &[u8]) -> bool {
        let mut s = self.start;
        for &b in input {
            s = self.step(s, b);
            if s == 0 {
                return false;
            }
        }
        s & self.last != 0
    }
}

/// A parsed wildcard pattern (`*` any run, `?` one character).
#[derive(Clone)]
pub struct Wildcard {
    text: String,
    tokens: Vec<Token>,
    exact: Nfa,
    canonical: Nfa,
}

impl std::fmt::Debug for Wildcard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Wildcard").field(&self.text).finish()
    }
}

impl Wildcard {
    /// Parses and normalizes a wildcard pattern. Consecutive `*` collapse into one.
    ///
    /// Errors: [`PatternError::BadChar`], [`PatternError::Empty`],
    /// [`PatternError::NoLiteral`], [`PatternError::TooLong`].
    pub fn parse(text: &str) -> Result<Wildcard, PatternError> {
        let bytes = normalize(text, true)?;
        if bytes.is_empty() {
            return Err(PatternError::Empty);
        }
        let mut tokens = Vec::with_capacity(bytes.len());
        for &b in &bytes {
            let t = match b {
                b'*' => Token::Star,
                b'?' => Token::One,
                c => Token::Lit(c),
            };
            if t == Token::Star && tokens.last() == Some(&Token::Star) {
                continue;
            }
            tokens.push(t);
        }
        let width = tokens.iter().filter(|t| **t != Token::Star).count();
        if width > MAX_PLATE_LEN {
            return Err(PatternError::TooLong {
                got: width,
                max: MAX_PLATE_LEN,
            });
        }
        if !tokens.iter().any(|t| matches!(t, Token::Lit(_))) {
            return Err(PatternError::NoLiteral);
        }
        Ok(Self::from_tokens(tokens))
    }

    fn from_tokens(tokens: Vec<Token>) -> Wildcard {
        // At most 16 non-star tokens and no two adjacent stars: <= 33 tokens, 34 state bits.
        let text = tokens
            .iter()
            .map(|t| match t {
                Token::Lit(c) => char::from(*c),
                Token::One => '?',
                Token::Star => '*',
            })
            .collect();
        Wildcard {
            text,
            exact: Nfa::new(&tokens, false),
            canonical: Nfa::new(&tokens, true),
            tokens,
        }
    }

    /// The pattern reversed (matches the reversed plates). Used to search an FST of reversed
    /// keys when the pattern has a longer literal suffix than prefix.
    pub fn reversed(&self) -> Wildcard {
        let mut tokens = self.tokens.clone();
        tokens.reverse();
        Self::from_tokens(tokens)
    }

    /// Number of non-`*` tokens before the first `*` (the whole width if there is none).
    pub fn prefix_len(&self) -> usize {
        self.tokens
            .iter()
            .take_while(|t| **t != Token::Star)
            .count()
    }

    /// Number of non-`*` tokens after the last `*` (the whole width if there is none).
    pub fn suffix_len(&self) -> usize {
        self.tokens
            .iter()
            .rev()
            .take_while(|t| **t != Token::Star)
            .count()
    }

    /// Number of literal (non-`?`) tokens before the first `*`: how strongly a forward
    /// (prefix) index search is anchored.
    pub fn prefix_literals(&self) -> usize {
        self.tokens
            .iter()
            .take_while(|t| **t != Token::Star)
            .filter(|t| matches!(t, Token::Lit(_)))
            .count()
    }

    /// Number of literal (non-`?`) tokens after the last `*`: how strongly a reversed
    /// (suffix) index search is anchored.
    pub fn suffix_literals(&self) -> usize {
        self.tokens
            .iter()
            .rev()
            .take_while(|t| **t != Token::Star)
            .filter(|t| matches!(t, Token::Lit(_)))
            .count()
    }

    /// True if the plate matches, literals compared exactly.
    pub fn matches(&self, plate: &str) -> bool {
        self.exact.run(plate.as_bytes())
    }

    /// True if the plate matches with literals compared after OCR canonicalization. Accepts
    /// a canonical plate or a raw one (the result is the same). Every plate that
    /// [`matches`](Self::matches) also matches here.
    pub fn matches_canonical(&self, canonical_plate: &[u8]) -> bool {
        self.canonical.run(canonical_plate)
    }

    /// The normalized pattern text (upper-case, separators removed, `**` collapsed).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Runs the canonical NFA (as [`Wildcard::matches_canonical`]).
impl fst::Automaton for Wildcard {
    type State = u64;

    fn start(&self) -> u64 {
        self.canonical.start
    }

    fn is_match(&self, state: &u64) -> bool {
        state & self.canonical.last != 0
    }

    fn can_match(&self, state: &u64) -> bool {
        *state != 0
    }

    fn will_always_match(&self, state: &u64) -> bool {
        state & self.canonical.trailing_star != 0
    }

    fn accept(&self, state: &u64, byte: u8) -> u64 {
        self.canonical.step(*state, byte)
    }
}

/// Row of the Levenshtein DP: `row[j]` = distance between the input consumed so far and
/// the first `j` bytes of the query, saturated at `max_edits + 1`.
pub type FuzzyState = [u8; MAX_PLATE_LEN + 1];

/// A fuzzy plate query: plates within `max_edits` OCR-weighted edits.
#[derive(Debug, Clone)]
pub struct Fuzzy {
    text: String,
    query: [u8; MAX_PLATE_LEN],
    len: usize,
    max_edits: u8,
}

impl Fuzzy {
    /// Builds a fuzzy query. The plate is normalized like a pattern (upper-case, separators
    /// removed) and must then be 1 to 16 letters or digits; `max_edits` must be 0, 1 or 2
    /// (0 means "equal up to OCR confusions").
    pub fn new(plate: &str, max_edits: u8) -> Result<Fuzzy, PatternError> {
        if max_edits > MAX_EDITS {
            return Err(PatternError::MaxEdits(max_edits));
        }
        let bytes = normalize(plate, false)?;
        if bytes.is_empty() {
            return Err(PatternError::Empty);
        }
        if bytes.len() > MAX_PLATE_LEN {
            return Err(PatternError::TooLong {
                got: bytes.len(),
                max: MAX_PLATE_LEN,
            });
        }
        let mut query = [0u8; MAX_PLATE_LEN];
        for (q, &b) in query.iter_mut().zip(&bytes) {
            *q = canonical_byte(b);
        }
        Ok(Fuzzy {
            text: bytes.iter().map(|&b| char::from(b)).collect(),
            query,
            len: bytes.len(),
            max_edits,
        })
    }

    /// The normalized query plate.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The maximum number of (non-free) edits.
    pub fn max_edits(&self) -> u8 {
        self.max_edits
    }

    /// True if the OCR-weighted edit distance between the plate and the query is at most
    /// `max_edits`.
    pub fn matches(&self, plate: &str) -> bool {
        self.matches_bytes(plate.as_bytes())
    }

    /// As [`matches`](Self::matches), on raw or canonical bytes.
    pub fn matches_bytes(&self, plate: &[u8]) -> bool {
        if plate.len().abs_diff(self.len) > usize::from(self.max_edits) {
            return false;
        }
        let mut s = self.start_row();
        for &b in plate {
            s = self.step(&s, b);
            if !self.row_alive(&s) {
                return false;
            }
        }
        s[self.len] <= self.max_edits
    }

    fn start_row(&self) -> FuzzyState {
        let cap = self.max_edits + 1;
        let mut row = [cap; MAX_PLATE_LEN + 1];
        for (j, cell) in row.iter_mut().enumerate().take(self.len + 1) {
            *cell = (j as u8).min(cap);
        }
        row
    }

    #[inline]
    fn row_alive(&self, row: &FuzzyState) -> bool {
        row[..=self.len].iter().any(|&d| d <= self.max_edits)
    }

    #[inline]
    fn step(&self, row: &FuzzyState, byte: u8) -> FuzzyState {
        let cap = self.max_edits + 1;
        let b = canonical_byte(byte);
        let mut next = [cap; MAX_PLATE_LEN + 1];
        next[0] = (row[0] + 1).min(cap);
        for j in 1..=self.len {
            let sub = row[j - 1] + u8::from(self.query[j - 1] != b);
            let v = sub.min(row[j] + 1).min(next[j - 1] + 1);
            next[j] = v.min(cap);
        }
        next
    }
}

/// Levenshtein DP row automaton over canonical bytes (raw bytes are canonicalized on entry).
impl fst::Automaton for Fuzzy {
    type State = FuzzyState;

    fn start(&self) -> FuzzyState {
        self.start_row()
    }

    fn is_match(&self, state: &FuzzyState) -> bool {
        state[self.len] <= self.max_edits
    }

    fn can_match(&self, state: &FuzzyState) -> bool {
        self.row_alive(state)
    }

    fn accept(&self, state: &FuzzyState, byte: u8) -> FuzzyState {
        self.step(state, byte)
    }
}

/// OCR-weighted edit distance computed directly (full DP, substitution free iff both bytes
/// are equal or listed in the same [`crate::ocr::CONFUSION_CLASSES`] entry). A slow
/// reference for tests; it does not use the canonical table.
pub fn ocr_distance(a: &str, b: &str) -> usize {
    fn same(x: u8, y: u8) -> bool {
        x == y
            || crate::ocr::CONFUSION_CLASSES
                .iter()
                .any(|c| c.contains(&x) && c.contains(&y))
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(!same(a[i - 1], b[j - 1]));
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use fst::Automaton;
    use proptest::prelude::*;

    /// Plain Levenshtein.
    fn levenshtein(a: &[u8], b: &[u8]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
                cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    /// Recursive glob reference.
    fn glob(p: &[u8], s: &[u8], eq: &dyn Fn(u8, u8) -> bool) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|k| glob(&p[1..], &s[k..], eq)),
            Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..], eq),
            Some(&c) => !s.is_empty() && eq(c, s[0]) && glob(&p[1..], &s[1..], eq),
        }
    }

    fn run_aut<A: Automaton>(a: &A, input: &[u8]) -> bool {
        let mut s = a.start();
        for &b in input {
            if !a.can_match(&s) {
                return false;
            }
            s = a.accept(&s, b);
        }
        a.is_match(&s)
    }

    #[test]
    fn parse_normalizes_and_refuses() {
        assert_eq!(Wildcard::parse("kd-40 9.1*").unwrap().text(), "KD4091*");
        assert_eq!(Wildcard::parse("**A***?").unwrap().text(), "*A*?");
        assert_eq!(Wildcard::parse("*?*").unwrap_err(), PatternError::NoLiteral);
        assert_eq!(Wildcard::parse(" - ").unwrap_err(), PatternError::Empty);
        assert_eq!(
            Wildcard::parse("AB_1").unwrap_err(),
            PatternError::BadChar('_')
        );
        assert_eq!(
            Wildcard::parse("ÄB").unwrap_err(),
            PatternError::BadChar('Ä')
        );
        assert!(Wildcard::parse("ABCDEFGHIJKLMNO?*").is_ok());
        assert_eq!(
            Wildcard::parse("ABCDEFGHIJKLMNOP?").unwrap_err(),
            PatternError::TooLong { got: 17, max: 16 }
        );
        assert_eq!(Fuzzy::new("AB1", 3).unwrap_err(), PatternError::MaxEdits(3));
        assert_eq!(
            Fuzzy::new("AB*", 1).unwrap_err(),
            PatternError::BadChar('*')
        );
        assert_eq!(Fuzzy::new("", 1).unwrap_err(), PatternError::Empty);
        assert!(Fuzzy::new("ABCDEFGHIJKLMNOPQ", 1).is_err());
        let msg = PatternError::NoLiteral.to_string();
        assert!(msg.contains("no letter or digit"), "{msg}");
    }

    #[test]
    fn wildcard_positions() {
        let cases: &[(&str, &str, bool)] = &[
            ("?D40917", "KD40917", true),
            ("KD4?917", "KD40917", true),
            ("KD4091?", "KD40917", true),
            ("KD4091?", "KD4091", false),
            ("KD4091?", "KD409177", false),
            ("*40917", "KD40917", true),
            ("*40917", "40917", true),
            ("*40917", "KD40918", false),
            ("KD*917", "KD40917", true),
            ("KD*917", "KD917", true),
            ("KD*917", "KD9170", false),
            ("KD4*", "KD40917", true),
            ("KD4*", "KD4", true),
            ("KD4*", "KD", false),
            ("*09*", "KD40917", true),
            ("*09*", "KD40817", false),
            ("?*1?", "KD40917", true),
            ("K?*?7", "KD40917", true),
            ("K?*?7", "K7", false),
            ("KO40917", "KD40917", false),
        ];
        for &(p, s, want) in cases {
            let w = Wildcard::parse(p).unwrap();
            assert_eq!(w.matches(s), want, "{p} vs {s}");
            assert_eq!(
                w.reversed().matches(&s.chars().rev().collect::<String>()),
                want
            );
            if want {
                assert!(w.matches_canonical(crate::ocr::canonical(s).as_bytes()));
            }
        }
        // Canonical matching treats OCR classes as equal.
        let w = Wildcard::parse("KO4*").unwrap();
        assert!(!w.matches("KD40917"));
        assert!(w.matches_canonical(b"K040917"));
        assert!(w.matches_canonical(b"KD40917"));
        assert_eq!(w.prefix_len(), 3);
        assert_eq!(w.suffix_len(), 0);
        assert_eq!(Wildcard::parse("*4917").unwrap().suffix_len(), 4);
        let w = Wildcard::parse("?A?*B?").unwrap();
        assert_eq!((w.prefix_literals(), w.suffix_literals()), (1, 1));
        assert_eq!((w.prefix_len(), w.suffix_len()), (3, 2));
    }

    /// For every class: a substitution within the class is free, one real edit is found with
    /// max_edits 1, two real edits need max_edits 2.
    #[test]
    fn fuzzy_ocr_classes() {
        for class in crate::ocr::CONFUSION_CLASSES {
            for &x in class.iter() {
                for &y in class.iter() {
                    let q = format!("K{}4091", char::from(x));
                    let p0 = format!("K{}4091", char::from(y));
                    // Free substitution inside the class.
                    assert!(Fuzzy::new(&q, 0).unwrap().matches(&p0), "{q} {p0}");
                    assert_eq!(ocr_distance(&q, &p0), 0);
                    // Plus one real edit (substitution 9 -> X).
                    let p1 = format!("K{}40X1", char::from(y));
                    assert!(!Fuzzy::new(&q, 0).unwrap().matches(&p1));
                    assert!(Fuzzy::new(&q, 1).unwrap().matches(&p1), "{q} {p1}");
                    // Plus two real edits (substitution and deletion).
                    let p2 = format!("K{}40X", char::from(y));
                    assert!(!Fuzzy::new(&q, 1).unwrap().matches(&p2), "{q} {p2}");
                    assert!(Fuzzy::new(&q, 2).unwrap().matches(&p2), "{q} {p2}");
                    assert_eq!(ocr_distance(&q, &p2), 2);
                }
            }
        }
        // Across classes a substitution costs 1.
        assert!(!Fuzzy::new("K0", 0).unwrap().matches("K1"));
        assert!(Fuzzy::new("K0", 1).unwrap().matches("K1"));
        assert!(Fuzzy::new("KD40917", 1).unwrap().matches("KO4O9I7X"));
        assert!(!Fuzzy::new("KD40917", 1).unwrap().matches("KO4O9"));
    }

    fn plate() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(b"0ODQ1IL2Z5S6G8BAK7".to_vec()),
            0..9,
        )
        .prop_map(|v| v.into_iter().map(char::from).collect())
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(b"0OD1IL2ZAK7**??".to_vec()), 1..9)
            .prop_map(|v| v.into_iter().map(char::from).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn weighted_equals_canonical_levenshtein(a in plate(), b in plate()) {
            let ca = crate::ocr::canonical(&a);
            let cb = crate::ocr::canonical(&b);
            prop_assert_eq!(ocr_distance(&a, &b), levenshtein(ca.as_bytes(), cb.as_bytes()));
        }

        #[test]
        fn fuzzy_equals_reference(q in plate(), p in plate(), k in 0u8..=2) {
            prop_assume!(!q.is_empty());
            let f = Fuzzy::new(&q, k).unwrap();
            let want = ocr_distance(&q, &p) <= usize::from(k);
            prop_assert_eq!(f.matches(&p), want);
            prop_assert_eq!(run_aut(&f, p.as_bytes()), want);
            prop_assert_eq!(run_aut(&f, crate::ocr::canonical(&p).as_bytes()), want);
        }

        #[test]
        fn wildcard_equals_reference(pat in pattern(), p in plate()) {
            let Ok(w) = Wildcard::parse(&pat) else { return Ok(()) };
            let t = w.text().as_bytes().to_vec();
            let exact = glob(&t, p.as_bytes(), &|x, y| x == y);
            let canon = glob(&t, p.as_bytes(), &|x, y| crate::ocr::same_class(x, y));
            prop_assert_eq!(w.matches(&p), exact);
            prop_assert_eq!(w.matches_canonical(p.as_bytes()), canon);
            prop_assert_eq!(w.matches_canonical(crate::ocr::canonical(&p).as_bytes()), canon);
            prop_assert_eq!(run_aut(&w, crate::ocr::canonical(&p).as_bytes()), canon);
            let rev: String = p.chars().rev().collect();
            prop_assert_eq!(w.reversed().matches(&rev), exact);
            // will_always_match is sound.
            let mut s = fst::Automaton::start(&w);
            for &b in crate::ocr::canonical(&p).as_bytes() {
                if w.will_always_match(&s) {
                    prop_assert!(canon);
                }
                s = w.accept(&s, b);
            }
        }
    }
}
