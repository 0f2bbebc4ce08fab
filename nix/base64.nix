# Standard padded base64 of an ASCII string, in pure Nix (neither builtins nor nixpkgs' lib
# has an encoder). A machines line carries the builder's public host key line this way; the
# Rust side (crates/core/src/nix/machines.rs, `base64_encode`) writes the same bytes.
{ lib }:
text:
let
  alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  digit = n: builtins.substring n 1 alphabet;
  bytes = map lib.strings.charToInt (lib.stringToCharacters text);
  len = builtins.length bytes;
  byteAt = i: if i < len then builtins.elemAt bytes i else 0;
  # 64^3, 64^2, 64^1, 64^0: the place of each of the four sextets in 24 bits.
  divisors = [
    262144
    4096
    64
    1
  ];
  # One group of up to three bytes as four characters, `=` where the input ran out.
  group =
    g:
    let
      i = g * 3;
      n = byteAt i * 65536 + byteAt (i + 1) * 256 + byteAt (i + 2);
      sextet = k: lib.mod (n / builtins.elemAt divisors k) 64;
      present = len - i;
    in
    lib.concatMapStrings (k: if k <= present then digit (sextet k) else "=") [
      0
      1
      2
      3
    ];
in
lib.concatMapStrings group (lib.range 0 ((len + 2) / 3 - 1))
