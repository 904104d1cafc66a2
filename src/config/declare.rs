//! The machinery behind the command table in [`super::commands`]: the `declare_commands!`
//! macro that turns one declaration per msmtprc command into the [`Settings`] struct, its
//! `Default`, the inheritance mask's [`Field`]s, the file-command dispatch, the `-P` lines and
//! the command-line options; and the small types those carry.
//!
//! [`Settings`]: super::commands::Settings
//! [`Field`]: super::commands::Field

use super::grammar::{Bad, Ctx, View};

/// Whether a command-line option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CliArg {
    Required,
    /// `--opt=value` or just `--opt`; the implicit value stands for an absent or empty one.
    Optional(&'static str),
}

/// The command-line option of an msmtprc command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CliOption {
    /// The long option, without `--`.
    pub long: &'static str,
    /// Its place in msmtp's long-option table: glibc lists the candidates of an ambiguous
    /// prefix in table order.
    pub rank: u8,
    pub arg: CliArg,
    pub short: Option<char>,
    /// The option name in `invalid argument X for OPTION`.
    pub error_label: &'static str,
    /// Set when the option names a file postie reads or writes, or a command it runs: the
    /// name it is refused under when postie is called as `sendmail` (see `cli::argv_guard`).
    pub file_or_command: Option<&'static str>,
}

/// One line of the `-P` listing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<S: 'static> {
    pub label: &'static str,
    /// Printed only in sendmail mode (after the connection settings).
    pub sendmail_only: bool,
    pub value: fn(&View<'_, S>) -> String,
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

/// Like [`store`], for a `-P` formatter.
pub(crate) fn render<T, S>(
    v: &T,
    view: &View<'_, S>,
    show: fn(&T, &View<'_, S>) -> String,
) -> String {
    show(v, view)
}

/// Like [`store`], for a `canonical` spelling.
pub(crate) fn spell<T>(v: &T, canonical: fn(&T) -> String) -> String {
    canonical(v)
}

/// Generates the command table's items (see the module doc). Each `settings` entry is, in
/// this order:
///
/// - `/// doc` (one line), then `field: Type = default;`: the `Settings` field;
/// - `parse GRAMMAR;`: a `fn(&str, &Ctx) -> Result<Type, Bad>`, for the file and the command
///   line alike (`ctx.origin` tells them apart where msmtp does);
/// - `example "ARG";`: an argument it accepts (the tests check it);
/// - `show always|sendmail "label" = FMT;` with `FMT: fn(&Type, &View<Settings>) -> String`, or
///   `show never;`: the `-P` line;
/// - optionally `canonical FN;` with `FN: fn(&Type) -> String`: the argument the command line
///   records instead of the one typed (decimal numbers, and every setting an alias's option
///   changes);
/// - optionally `cli "long" rank N Required|Optional "implicit" [short 'c'] [errors_as "--x"]
///   [guard file_or_command];`: the option, its place in msmtp's table, and whether it names
///   a file or a command.
///
/// An `aliases` entry is `/// doc`, `name => setting;` (or `=> ignored;`), `parse` (yielding
/// the setting's type), `example` and optionally `cli`.
macro_rules! declare_commands {
    (
        settings {
            $(
                $(#[doc = $doc:literal])+
                $field:ident: $ty:ty = $default:expr;
                parse $parse:expr;
                example $example:literal;
                show $when:ident $($label:literal = $show:expr)?;
                $(canonical $canon:expr;)?
                $(cli $long:literal rank $rank:literal $arg:ident $($implicit:literal)?
                    $(short $short:literal)? $(errors_as $elabel:literal)?
                    $(guard $guard:ident)?;)?
            )*
        }
        aliases {
            $(
                $(#[doc = $adoc:literal])+
                $alias:ident => $target:ident;
                parse $aparse:expr;
                example $aexample:literal;
                $(cli $along:literal rank $arank:literal $aarg:ident $($aimplicit:literal)?
                    $(short $ashort:literal)? $(errors_as $aelabel:literal)?
                    $(guard $aguard:ident)?;)?
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

            /// The msmtprc argument that gives this setting its value in `s`, where the
            /// command line must not record the argument as typed.
            pub(crate) fn canonical(self, s: &Settings) -> Option<String> {
                match self {
                    $( Field::$field => $crate::config::declare::declare_commands!(@canonical s.$field $(, $canon)?), )*
                }
            }

            /// The `-P` line, if msmtp 1.8.23 prints one.
            pub(crate) fn line(self) -> Option<$crate::config::declare::Line<Settings>> {
                match self {
                    $( Field::$field => $crate::config::declare::declare_commands!(@line $field, $when $(, $label, $show)?), )*
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

            fn cli(self) -> Option<$crate::config::declare::CliOption> {
                match self {
                    $( Field::$field => $crate::config::declare::declare_commands!(@cli $( $long, $rank, $arg $(, $implicit)?;
                        [$($short)?] [$($elabel)?] [$($guard)?] )?), )*
                }
            }
        }

        /// A compatibility spelling of a setting.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Alias { $( $alias, )* }

        impl Alias {
            pub(crate) const ALL: &[Alias] = &[ $( Alias::$alias, )* ];

            #[cfg(test)]
            fn name(self) -> &'static str {
                match self { $( Alias::$alias => stringify!($alias), )* }
            }

            /// The setting it changes; `None` for an ignored command.
            #[cfg(test)]
            pub(crate) fn target(self) -> Option<Field> {
                match self { $( Alias::$alias => $crate::config::declare::declare_commands!(@target $target), )* }
            }

            fn parse_into(self, s: &mut Settings, arg: &str, ctx: &Ctx) -> Result<Option<Field>, Bad> {
                match self {
                    $( Alias::$alias => $crate::config::declare::declare_commands!(@alias s, arg, ctx, $target, $aparse), )*
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

            fn cli(self) -> Option<$crate::config::declare::CliOption> {
                match self {
                    $( Alias::$alias => $crate::config::declare::declare_commands!(@cli $( $along, $arank, $aarg $(, $aimplicit)?;
                        [$($ashort)?] [$($aelabel)?] [$($aguard)?] )?), )*
                }
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

    (@canonical $v:expr) => { None };
    (@canonical $v:expr, $canon:expr) => {
        Some($crate::config::declare::spell(&$v, $canon))
    };

    (@line $field:ident, never) => { None };
    (@line $field:ident, always, $label:literal, $show:expr) => {
        $crate::config::declare::declare_commands!(@line_of $field, false, $label, $show)
    };
    (@line $field:ident, sendmail, $label:literal, $show:expr) => {
        $crate::config::declare::declare_commands!(@line_of $field, true, $label, $show)
    };
    (@line_of $field:ident, $sendmail:literal, $label:literal, $show:expr) => {
        Some($crate::config::declare::Line {
            label: $label,
            sendmail_only: $sendmail,
            value: |a: &$crate::config::grammar::View<'_, Settings>| {
                $crate::config::declare::render(&a.settings.$field, a, $show)
            },
        })
    };

    (@cli) => { None };
    (@cli $long:literal, $rank:literal, $arg:ident $(, $implicit:literal)?;
        [$($short:literal)?] [$($elabel:literal)?] [$($guard:ident)?]) => {
        Some($crate::config::declare::CliOption {
            long: $long,
            rank: $rank,
            arg: $crate::config::declare::declare_commands!(@arg $arg $($implicit)?),
            short: $crate::config::declare::declare_commands!(@some $($short)?),
            error_label: $crate::config::declare::declare_commands!(@either [$($elabel)?] concat!("--", $long)),
            file_or_command: $crate::config::declare::declare_commands!(@guard [$($guard)?]
                concat!("--", $long $(, " (-", $short, ")")?)),
        })
    };
    (@arg Required) => { $crate::config::declare::CliArg::Required };
    (@arg Optional $implicit:literal) => { $crate::config::declare::CliArg::Optional($implicit) };
    (@some) => { None };
    (@some $x:expr) => { Some($x) };
    (@either [] $default:expr) => { $default };
    (@either [$x:expr] $default:expr) => { $x };
    (@guard [] $label:expr) => { None };
    (@guard [file_or_command] $label:expr) => { Some($label) };

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
