// The live region under the header: short messages that screen readers announce.

export function announce(message, kind = "info") {
  const line = document.getElementById("status");
  line.dataset.kind = kind;
  line.textContent = message;
}
