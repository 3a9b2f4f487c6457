"""BODYSTRUCTURE and BODY of rmail against Dovecot 2.3 (Debian's
dovecot-imapd) on generated messages; any difference outside the
documented allow-list (bsdiff.ALLOWED, docs/imap.md "Parity with
Dovecot") fails.  A missing dovecot fails too: sh scripts/deps.sh.
The full 2,000-message run: python3 bsdiff.py 2000.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bsdiff  # noqa: E402

N = int(os.environ.get("RMAIL_BS_PARITY_N", "200"))


class BodystructureParity(unittest.TestCase):
    def test_dovecot_parity(self):
        counts, bad = bsdiff.run(N, show=5)
        print("differences by class:", counts)
        self.assertEqual(bad, [], "differences outside the allow-list")
        # the generator must keep reaching the documented cases
        for k in ("case", "malformed-ctype"):
            self.assertIn(k, counts)


if __name__ == "__main__":
    unittest.main()
