# checks.<system>.nix-lint: the Nix checks of tests/nix/check.sh that need neither a store nor
# the network, inside the sandbox: parse, deadnix, nixfmt, and flake.lock against flake.nix.
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
    # No store can be opened in the sandbox: parsing and these evaluations need none.
    for f in $files; do nix-instantiate --store dummy:// --parse "$f" > /dev/null; done
    nix-instantiate --store dummy:// --eval --strict tests/nix/eval-lock.nix > /dev/null
    deadnix --fail $files
    nixfmt --check $files
    touch "$out"
  ''
