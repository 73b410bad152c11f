//! Turns the text of a file into tokens with their line and column.

use std::fmt;
use std::path::Path;

use crate::error::{ConfigError, Location};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Equals,
    Semi,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Quoted(s) => write!(f, "\"{s}\""),
            Tok::Open => f.write_str("'{'"),
            Tok::Close => f.write_str("'}'"),
            Tok::Equals => f.write_str("'='"),
            Tok::Semi => f.write_str("';'"),
            Tok::Eof => f.write_str("end of file"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Token {
    /// The text of a name or value token.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(s) | Tok::Quoted(s) => Some(s),
            _ => None,
        }
    }
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '{' | '}' | '=' | ';' | '"' | '#')
}

fn punctuation(c: char) -> Option<Tok> {
    match c {
        '{' => Some(Tok::Open),
        '}' => Some(Tok::Close),
        '=' => Some(Tok::Equals),
        ';' => Some(Tok::Semi),
        _ => None,
    }
}

/// The position in the text; columns count characters.
struct Cursor {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    /// Steps over one character that is not a newline.
    fn bump(&mut self) {
        self.i += 1;
        self.col += 1;
    }

    fn token(&self, tok: Tok, line: usize, column: usize) -> Token {
        Token { tok, line, column }
    }

    /// A quoted string, from its opening quote to its closing one on the
    /// same line.
    fn quoted(&mut self, file: &Path) -> Result<Tok, ConfigError> {
        let (line, column) = (self.line, self.col);
        self.bump();
        let mut s = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    let at = Location {
                        file: file.to_path_buf(),
                        line,
                        column,
                    };
                    return Err(ConfigError::new(
                        &at,
                        "Unterminated quoted string: no closing '\"' on its line",
                    ));
                }
                Some('"') => {
                    self.bump();
                    return Ok(Tok::Quoted(s));
                }
                Some(ch) => {
                    s.push(ch);
                    self.bump();
                }
            }
        }
    }

    fn word(&mut self) -> Tok {
        let start = self.i;
        while self.peek().is_some_and(is_word_char) {
            self.bump();
        }
        Tok::Word(self.chars[start..self.i].iter().collect())
    }
}

/// The tokens of `text`, ending with [`Tok::Eof`]; `file` names it in
/// errors.
pub(crate) fn lex(text: &str, file: &Path) -> Result<Vec<Token>, ConfigError> {
    let mut cur = Cursor {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut toks = Vec::new();
    // Where the last line break is: the end of the file, when the file
    // ends with one (the line after it is no line of the file).
    let mut line_end = (1, 1);
    while let Some(c) = cur.peek() {
        let (line, column) = (cur.line, cur.col);
        if c == '\n' {
            line_end = (line, column);
            cur.i += 1;
            cur.line += 1;
            cur.col = 1;
        } else if c.is_whitespace() {
            cur.bump();
        } else if c == '#' {
            while cur.peek().is_some_and(|c| c != '\n') {
                cur.bump();
            }
        } else if let Some(tok) = punctuation(c) {
            cur.bump();
            toks.push(cur.token(tok, line, column));
        } else if c == '"' {
            let tok = cur.quoted(file)?;
            toks.push(cur.token(tok, line, column));
        } else {
            let tok = cur.word();
            toks.push(cur.token(tok, line, column));
        }
    }
    let (line, column) = if cur.col == 1 && cur.line > 1 {
        line_end
    } else {
        (cur.line, cur.col)
    };
    toks.push(cur.token(Tok::Eof, line, column));
    Ok(toks)
}
