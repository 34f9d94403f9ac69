"""Connection secrets sealed with KMS, bound to their firm by the encryption context."""

from __future__ import annotations

import base64
from typing import Any


class KmsSecretBox:
    """``SecretBox`` on AWS KMS. The firm id rides in the encryption context, so a secret sealed for
    one firm cannot be opened as another's, and CloudTrail shows whose secret was used."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id

    def seal(self, plaintext: bytes, firm_id: str) -> str:
        """Encrypt ``plaintext`` for ``firm_id``; returns base64 ciphertext."""
        reply = self._kms.encrypt(
            KeyId=self._key_id, Plaintext=plaintext, EncryptionContext={"firm_id": firm_id}
        )
        return base64.b64encode(reply["CiphertextBlob"]).decode()

    def open(self, sealed: str, firm_id: str) -> bytes:
        """Decrypt what ``seal`` returned for the same firm."""
        reply = self._kms.decrypt(
            CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"firm_id": firm_id}
        )
        return bytes(reply["Plaintext"])
