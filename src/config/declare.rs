//! The machinery behind the command table in [`super::commands`]: the `declare_commands!`
//! macro that turns one declaration per msmtprc command into the [`Settings`] struct, its
//! `Default`, the inheritance mask's [`Field`]s, the file-command dispatch, the `-P` lines and
//! the command-line options; and the small types those carry.
//!
//! [`Settings`]: super::commands::Settings
//! [`Field`]: super::commands::Field

use super::grammar::{Bad, Ctx};
use super::settings::Account;

/// One line of the `-P` listing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub label: &'static str,
    /// Printed only in sendmail mode (after the connection settings).
    pub sendmail_only: bool,
    pub value: fn(&Account) -> String,
}

/// Parse `arg` into `slot`, leaving it untouched on error. Taking the grammar as a `fn`
/// pointer gives closures in the table their parameter types.
pub(crate) fn store<T>(
    slot: &mut T,
    grammar: fn(&str, &Ctx) -> Result<T, Bad>,
    arg: &str,
    ctx: &Ctx,
) -> Result<(), Bad> {
    *slot = grammar(arg, ctx)?;
    Ok(())
}

pub(crate) fn render<T>(v: &T, a: &Account, show: fn(&T, &Account) -> String) -> String {
    show(v, a)
}

/// Generates the command table's items (see the module doc). Each `settings` entry is, in
/// this order:
///
/// - `/// doc` (one line), then `field: Type = default;`: the `Settings` field;
/// - `parse GRAMMAR;`: a `fn(&str, &Ctx) -> Result<Type, Bad>`;
/// - `example "ARG";`: an argument it accepts (the tests check it);
/// - `show always|sendmail "label" = FMT;` with `FMT: fn(&Type, &Account) -> String`, or
///   `show never;`: the `-P` line;
///
/// An `aliases` entry is `/// doc`, `name => setting;` (or `=> ignored;`), `parse` (yielding
/// the setting's type) and `example`.
macro_rules! declare_commands {
    (
        settings {
            $(
                $(#[doc = $doc:literal])+
                $field:ident: $ty:ty = $default:expr;
                parse $parse:expr;
                example $example:literal;
                show $when:ident $($label:literal = $show:expr)?;
            )*
        }
        aliases {
            $(
                $(#[doc = $adoc:literal])+
                $alias:ident => $target:ident;
                parse $aparse:expr;
                example $aexample:literal;
            )*
        }
    ) => {
        /// Every msmtprc setting of one account. `None` means "not set" (what `-P` prints as
        /// `(not set)`); derived defaults (port, trust file, proxy port) are filled in by
        /// `account::finalize`, not here.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Settings {
                Settings { $( $field: $default, )* }
            }
        }

        /// One setting: a bit of the "explicitly set" mask, and the unit of inheritance.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Field { $( $field, )* }

        impl Field {
            pub(crate) const ALL: &[Field] = &[ $( Field::$field, )* ];

            #[cfg(test)]
            pub(crate) fn name(self) -> &'static str {
                match self { $( Field::$field => stringify!($field), )* }
            }

            /// Copy this setting's value from `src` to `dst`.
            pub(crate) fn copy(self, dst: &mut Settings, src: &Settings) {
                match self { $( Field::$field => dst.$field = src.$field.clone(), )* }
            }

            fn parse_into(self, s: &mut Settings, arg: &str, ctx: &Ctx) -> Result<(), Bad> {
                match self { $( Field::$field => $crate::config::declare::store(&mut s.$field, $parse, arg, ctx), )* }
            }

            /// The `-P` line, if msmtp 1.8.23 prints one.
            pub(crate) fn line(self) -> Option<$crate::config::declare::Line> {
                match self {
                    $( Field::$field => declare_commands!(@line $field, $when $(, $label, $show)?), )*
                }
            }

            #[cfg(test)]
            fn doc(self) -> &'static str {
                match self { $( Field::$field => concat!($($doc),+), )* }
            }

            #[cfg(test)]
            fn example(self) -> &'static str {
                match self { $( Field::$field => $example, )* }
            }
        }

        /// A compatibility spelling of a setting.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Alias { $( $alias, )* }

        impl Alias {
            #[cfg(test)]
            pub(crate) const ALL: &[Alias] = &[ $( Alias::$alias, )* ];

            #[cfg(test)]
            fn name(self) -> &'static str {
                match self { $( Alias::$alias => stringify!($alias), )* }
            }

            /// The setting it changes; `None` for an ignored command.
            #[cfg(test)]
            pub(crate) fn target(self) -> Option<Field> {
                match self { $( Alias::$alias => declare_commands!(@target $target), )* }
            }

            fn parse_into(self, s: &mut Settings, arg: &str, ctx: &Ctx) -> Result<Option<Field>, Bad> {
                match self {
                    $( Alias::$alias => declare_commands!(@alias s, arg, ctx, $target, $aparse), )*
                }
            }

            #[cfg(test)]
            fn doc(self) -> &'static str {
                match self { $( Alias::$alias => concat!($($adoc),+), )* }
            }

            #[cfg(test)]
            fn example(self) -> &'static str {
                match self { $( Alias::$alias => $aexample, )* }
            }
        }

        impl Command {
            /// The command named `name` (exact, case-sensitive).
            pub(crate) fn lookup(name: &str) -> Option<Command> {
                Some(match name {
                    $( stringify!($field) => Command::Setting(Field::$field), )*
                    $( stringify!($alias) => Command::Alias(Alias::$alias), )*
                    _ => return None,
                })
            }
        }
    };

    (@line $field:ident, never) => { None };
    (@line $field:ident, always, $label:literal, $show:expr) => {
        declare_commands!(@line_of $field, false, $label, $show)
    };
    (@line $field:ident, sendmail, $label:literal, $show:expr) => {
        declare_commands!(@line_of $field, true, $label, $show)
    };
    (@line_of $field:ident, $sendmail:literal, $label:literal, $show:expr) => {
        Some($crate::config::declare::Line {
            label: $label,
            sendmail_only: $sendmail,
            value: |a: &Account| $crate::config::declare::render(&a.settings.$field, a, $show),
        })
    };

    (@target ignored) => { None };
    (@target $target:ident) => { Some(Field::$target) };

    (@alias $s:ident, $arg:ident, $ctx:ident, ignored, $parse:expr) => {{
        let grammar: $crate::config::grammar::Grammar<()> = $parse;
        grammar($arg, $ctx)?;
        Ok(None)
    }};
    (@alias $s:ident, $arg:ident, $ctx:ident, $target:ident, $parse:expr) => {{
        $crate::config::declare::store(&mut $s.$target, $parse, $arg, $ctx)?;
        Ok(Some(Field::$target))
    }};
}

pub(crate) use declare_commands;
