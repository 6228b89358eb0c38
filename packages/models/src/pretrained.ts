// Placeholder: filled in by the issue-6 work on this file.
export {};
