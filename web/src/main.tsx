/** The dashboard's entry point: restores a kept session, then renders the app. */
import { render } from 'preact';
import './styles.css';
import { App } from './app';
import { restore } from './auth';

const root = document.getElementById('app');
if (root) void restore().finally(() => render(<App />, root));
