// The 404 page's language switch and title. A file rather than an inline script: the Content-Security-Policy
// allows scripts from this origin only (src/http/security.rs).
import { applyStatic, mountLangSwitch, t, onLangChange } from '/i18n.js';

applyStatic();
mountLangSwitch(document.getElementById('lang-switch'));
const title = () => { document.title = `${t('notFound.title')} · RoadLedger`; };
onLangChange(title);
title();
