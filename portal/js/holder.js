// Pages for holders: certificates, pickup, mail, reissue, downloads, inbox.

export {};
