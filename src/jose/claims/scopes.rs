//! [`Scopes`]: the granted (or required) scopes, as a set.

use std::fmt;

/// A set of OAuth scopes (RFC 6749 §3.3): order and repeats do not matter,
/// matching is exact and case-sensitive.
///
/// ```
/// use jwt_gate::Scopes;
/// let scopes: Scopes = "orders.read profile orders.read".parse().unwrap();
/// assert_eq!(scopes.len(), 2);
/// assert!(scopes.contains("profile"));
/// assert!(!scopes.contains("Profile"));
/// assert_eq!(scopes.to_string(), "orders.read profile");
/// ```
#[derive(Clone, Default)]
pub struct Scopes {
    /// The scopes, space-separated, as received.
    text: String,
    /// Byte ranges of `text`, sorted by the scope they delimit, no repeats.
    /// (Vectors, not boxed slices: shrinking them would copy, on the path
    /// of every validation.)
    spans: Vec<(u32, u32)>,
}

impl Scopes {
    /// `true` when `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.spans
            .binary_search_by(|span| self.at(*span).cmp(scope))
            .is_ok()
    }

    /// `true` when every scope of `other` is in this set.
    pub fn contains_all(&self, other: &Self) -> bool {
        other.iter().all(|s| self.contains(s))
    }

    /// The scopes, in byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.spans.iter().map(|span| self.at(*span))
    }

    /// How many distinct scopes.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn at(&self, (start, end): (u32, u32)) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// From space-separated text: one copy of the text, one list of ranges.
    fn from_text(text: String) -> Self {
        let mut spans = Vec::with_capacity(text.bytes().filter(|&b| b == b' ').count() + 1);
        let mut start = 0;
        for piece in text.split(' ') {
            if !piece.is_empty() {
                spans.push((start as u32, (start + piece.len()) as u32));
            }
            start += piece.len() + 1;
        }
        Self::from_spans(text, spans)
    }

    /// A set of whole names (roles, groups, permissions): each name is one
    /// member, spaces included, so that a role `Not Admin` never grants
    /// `Admin`. Empty names are left out.
    pub(crate) fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = Names::default();
        for name in names {
            builder.push(name.as_ref());
        }
        builder.finish()
    }

    /// The set of the `spans` of `text`, sorted, without repeats.
    fn from_spans(text: String, mut spans: Vec<(u32, u32)>) -> Self {
        let mut scopes = Self {
            text,
            spans: Vec::new(),
        };
        spans.sort_unstable_by(|a, b| scopes.at(*a).cmp(scopes.at(*b)));
        spans.dedup_by(|a, b| scopes.at(*a) == scopes.at(*b));
        scopes.spans = spans;
        scopes
    }
}

/// Whole names gathered one by one into one text (see
/// [`Scopes::from_names`]): two allocations for any number of names.
#[derive(Default)]
pub(crate) struct Names {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl Names {
    /// Adds `name` (nothing when it is empty).
    pub(crate) fn push(&mut self, name: &str) {
        if name.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let start = self.text.len();
        self.text.push_str(name);
        self.spans.push((start as u32, self.text.len() as u32));
    }

    /// Room for `bytes` more of names, about `names` of them.
    pub(crate) fn reserve(&mut self, bytes: usize, names: usize) {
        self.text.reserve(bytes);
        self.spans.reserve(names);
    }

    /// How many names so far, to [`truncate`](Self::truncate) back to.
    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.text.len(), self.spans.len())
    }

    /// Drops the names added since `mark`.
    pub(crate) fn truncate(&mut self, (text, spans): (usize, usize)) {
        self.text.truncate(text);
        self.spans.truncate(spans);
    }

    pub(crate) fn finish(self) -> Scopes {
        Scopes::from_spans(self.text, self.spans)
    }
}

impl PartialEq for Scopes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Scopes {}

impl std::hash::Hash for Scopes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for s in self.iter() {
            s.hash(state);
        }
    }
}

/// Scopes from separate names (a name holding a space becomes several).
impl<S: AsRef<str>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut text = String::new();
        for s in iter {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(s.as_ref());
        }
        Self::from_text(text)
    }
}

impl std::str::FromStr for Scopes {
    type Err = std::convert::Infallible;
    /// Parses a space-separated `scope` string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_text(s.into()))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
