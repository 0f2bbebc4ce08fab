# nix-instantiate --eval --strict --json --argstr variant stock tests/nix/eval-manifest.nix
{ variant }: import ../../nix/manifest.nix (import ./sample-args.nix).${variant}
