package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// VerificationCode is a short code printed on paper copies: the first 12 hex
// digits of the seal's signature hash, grouped, so a reader can compare a
// printout with the electronic certificate from a look-up.
func VerificationCode(sc *jiexuv1.SealedCertificate) string {
	h := sha256.New()
	h.Write(sc.GetCertificate())
	h.Write(sc.GetSeal().GetSignature())
	code := strings.ToUpper(hex.EncodeToString(h.Sum(nil))[:12])
	return code[:4] + "-" + code[4:8] + "-" + code[8:]
}
