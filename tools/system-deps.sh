#!/usr/bin/env bash
# Non-Python tools the tests use: OpenSSH's sftp client (checks our SFTP server with an
# implementation we did not write) and headless Chromium (checks /docs renders offline).
# Installs them with apt when missing and allowed; otherwise says what is missing.
set -euo pipefail
need=()
command -v sftp >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Instalando con apt: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "Aviso: faltan ${need[*]} (instálalos con tu gestor de paquetes);"
  echo "las pruebas que los usan se omitirán."
fi
