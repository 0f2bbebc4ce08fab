# checks.<system>.nix-lint: the same Nix checks as tests/nix/check.sh, inside the sandbox.
{
  runCommand,
  nix,
  deadnix,
  nixfmt-rfc-style,
  src,
}:
runCommand "builderbar-nix-lint"
  {
    nativeBuildInputs = [
      nix
      deadnix
      nixfmt-rfc-style
    ];
  }
  ''
    cd ${src}
    files=$(find . -name '*.nix' -not -path './target/*' -not -path './node_modules/*' | sort)
    for f in $files; do nix-instantiate --parse "$f" > /dev/null; done
    deadnix --fail $files
    nixfmt --check $files
    touch "$out"
  ''
